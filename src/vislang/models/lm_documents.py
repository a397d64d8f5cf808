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

A paragraph alone never repeats a sentence, so a model trained on paragraphs learns that a
sentence already said is unlikely — and a retrieval prompt holds exactly the sentences the caption
should repeat. With ``related_captions = k``, each paragraph is preceded by ``k`` captions of the
images of its split and language most like its own (those sharing its most specific caption),
as a page about similar images would show them; a sentence then recurs when two images share it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vislang.data.schema import CaptionExample, Record
from vislang.data.world import World
from vislang.errors import ConfigError
from vislang.models.lm_corpus import STAGE0_WORLD, LMText, texts_from_records
from vislang.models.lm_pretrain import LMPretrainOptions, LMPretrainTask
from vislang.train import TaskContext

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DocumentPretrainOptions(LMPretrainOptions):
    """The ``[task]`` keys of stage 0 on documents: those of stage 0 and ``related_captions``,
    the number of captions of related images read before each paragraph (0: none)."""

    related_captions: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.related_captions < 0:
            raise ConfigError("related_captions: must be at least 0")


class DocumentPretrainTask(LMPretrainTask):
    """Stage 0 with each caption record's captions joined into one text; see the module
    docstring."""

    options_class = DocumentPretrainOptions
    options: DocumentPretrainOptions

    def _read_texts(self, context: TaskContext) -> tuple[list[LMText], list[LMText]]:
        options = self.options
        languages = options.languages or None
        if options.world:
            from vislang.data.readers import read_dataset

            dataset = read_dataset(f"world:{context.resolve_path(options.world)}")
            records: Iterable[Record] = dataset.records
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
        texts = document_texts(
            records, SPLITS, options.kinds, languages, options.related_captions, options.world_seed
        )
        return [t for t in texts if t.split == "train"], [t for t in texts if t.split == "val"]


def document_texts(
    records: Iterable[Record],
    splits: Sequence[str],
    kinds: Sequence[str],
    languages: Sequence[str] | None,
    related_captions: int = 0,
    seed: int = 0,
) -> list[LMText]:
    """The texts of ``records`` as stage 0 reads them, except that a caption record's captions
    are joined by spaces into one text, after ``related_captions`` captions of related images
    (:func:`related_captions_for`; drawn with ``seed``)."""
    records = list(records)
    paragraphs = [
        r
        for r in records
        if isinstance(r, CaptionExample)
        and r.split in splits
        and "captions" in kinds
        and (languages is None or r.language in languages)
    ]
    related = related_captions_for(paragraphs, related_captions, seed)
    texts: list[LMText] = []
    for record in records:
        if isinstance(record, CaptionExample):
            if id(record) in related:
                paragraph = " ".join([*related[id(record)], *record.captions])
                texts.append(LMText(paragraph, record.language, "captions", record.split))
        else:
            texts += texts_from_records([record], splits, kinds, languages)
    return texts


def related_captions_for(
    records: Sequence[CaptionExample], count: int, seed: int
) -> dict[int, list[str]]:
    """For each record (keyed by ``id``), ``count`` captions drawn at random from the other
    records of its split and language that share its most specific shared caption (the first of
    its captions, in their order, that another record has too): the images most like it, as a
    retriever would find them. None when no other record shares a caption."""
    owners: dict[tuple[str | None, str, str], list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for caption in dict.fromkeys(record.captions):
            owners[(record.split, record.language, caption)].append(index)
    rng = random.Random(seed)
    related: dict[int, list[str]] = {}
    for index, record in enumerate(records):
        pool: list[int] = []
        for caption in record.captions:
            pool = [o for o in owners[(record.split, record.language, caption)] if o != index]
            if pool:
                break
        related[id(record)] = [
            rng.choice(records[rng.choice(pool)].captions) for _ in range(count if pool else 0)
        ]
    return related


__all__ = [
    "DocumentPretrainOptions",
    "DocumentPretrainTask",
    "document_texts",
    "related_captions_for",
]
