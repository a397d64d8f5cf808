"""Stage 0 on documents: each image's captions read as one paragraph.

``[task] name = "vislang.models.lm_documents:DocumentPretrainTask"`` is stage 0
(:mod:`vislang.models.lm_pretrain`, every option and behaviour the same) with one difference in
the data: the captions of one image in one language form one training text — "There is a red
circle and a blue square. A large red circle. There are two objects. ..." — instead of one text
each. Questions, statements and sequences stay one text each.

Why: a language model trained on isolated sentences learns nothing about using its context, and
a frozen one then cannot use captions retrieved into its prompt (SmallCap, PAELLA, LMCap): with
the sentence-level stage-0 model, a caption is *less* likely after a context that contains it
than after none. Web-scale language models read documents; a paragraph of captions of one image
is the world's smallest document, and in it later sentences repeat the colours, shapes and
counts of earlier ones — the copying that retrieval augmentation relies on. docs/captioning.md
measures both models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vislang.data.schema import CaptionExample, Record
from vislang.data.world import World
from vislang.errors import ConfigError
from vislang.models.lm_corpus import STAGE0_WORLD, LMText, texts_from_records
from vislang.models.lm_pretrain import LMPretrainTask
from vislang.train import TaskContext

SPLITS = ("train", "val")


class DocumentPretrainTask(LMPretrainTask):
    """Stage 0 with each caption record's captions joined into one text; see the module
    docstring."""

    def _read_texts(self, context: TaskContext) -> tuple[list[LMText], list[LMText]]:
        options = self.options
        languages = options.languages or None
        if options.world:
            from vislang.data.readers import read_dataset

            dataset = read_dataset(f"world:{context.resolve_path(options.world)}")
            texts = document_texts(dataset.records, SPLITS, options.kinds, languages)
        else:
            if options.split_mode not in ("iid", "compositional"):
                raise ConfigError(
                    f"{self.where}: task.split_mode: 'iid' or 'compositional', "
                    f"not {options.split_mode!r}"
                )
            config = STAGE0_WORLD.replace(
                scenes=options.scenes, seed=options.world_seed, split=options.split_mode
            )
            world = World(config)
            records = (
                record
                for index in range(config.scenes)
                if world.split_of(index) in SPLITS
                for kind in options.kinds
                for record in world.item(index).records.get(kind, ())
            )
            texts = document_texts(records, SPLITS, options.kinds, languages)
        return [t for t in texts if t.split == "train"], [t for t in texts if t.split == "val"]


def document_texts(
    records: Iterable[Record],
    splits: Sequence[str],
    kinds: Sequence[str],
    languages: Sequence[str] | None,
) -> list[LMText]:
    """The texts of ``records`` as stage 0 reads them, except that a caption record's captions
    are joined by spaces into one text."""
    texts: list[LMText] = []
    for record in records:
        if isinstance(record, CaptionExample):
            wanted = record.split in splits and "captions" in kinds
            if wanted and (languages is None or record.language in languages):
                paragraph = " ".join(record.captions)
                texts.append(LMText(paragraph, record.language, "captions", record.split))
        else:
            texts += texts_from_records([record], splits, kinds, languages)
    return texts


__all__ = ["DocumentPretrainTask", "document_texts"]
