"""Data of the vision-language models: records → training examples, and where the images are.

An **example** is one image with one text in one language: a question and its answer (from a
:class:`~vislang.data.schema.VQAExample`; the most frequent annotator answer) or one caption (a
:class:`~vislang.data.schema.CaptionExample` with five captions gives five examples). Every
example points into one table of distinct images, so an image's features are computed once.

Records come from any reader (``"FORMAT:PATH"``, e.g. a world folder; bad items and missing
images are skipped and counted) or from a world generated in memory
(:func:`generate_world_records`, images rendered as ``vislang world generate`` writes them).

"Trained on N examples" means the training set is a **pool** of ``N`` examples drawn uniformly
without replacement (seeded) from all training examples of every kind
(:func:`sample_pool`); a stage that trains on captions only uses the pool's captions, a stage
that trains on questions and captions the whole pool, so the two stages of a run see the same
examples when given the same pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from vislang import console
from vislang.data.images import ImageSource
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample, Record, VQAExample
from vislang.data.world import World, WorldConfig, render_scene
from vislang.train.seeding import derive_seed

KINDS = ("vqa", "captions")
"""Example kinds, named as the world's task files."""


@dataclass(frozen=True)
class VLMExample:
    """One image (an index into the image table) with one text: ``text`` is the question
    (``vqa``) or empty (``captions``), ``target`` the answer or the caption."""

    image: int
    kind: str
    text: str
    target: str
    language: str
    question_type: str | None = None


@dataclass
class SplitRecords:
    """VQA and caption records per split, and the rendered images of a generated world
    (``str(record.image)`` → image; ``None`` when the images are files)."""

    records: dict[str, list[Record]]
    images: dict[str, Image.Image] | None = None
    skipped: int = 0
    missing_images: int = 0

    def of_kind(self, split: str, kind: type) -> list:
        """The records of ``split`` of one record class."""
        return [r for r in self.records.get(split, []) if isinstance(r, kind)]


@dataclass
class ExampleSet:
    """Examples and the distinct images they point to (``sources[i]`` is image ``i``)."""

    examples: list[VLMExample]
    sources: list[ImageSource]
    image_keys: list[str] = field(default_factory=list)


def generate_world_records(
    config: WorldConfig, splits: Sequence[str], *, show_progress: bool = False
) -> SplitRecords:
    """The VQA and caption records of ``splits`` of a world generated in memory, and each
    scene's image rendered as ``vislang world generate`` writes it."""
    world = World(config)
    records: dict[str, list[Record]] = {split: [] for split in splits}
    images: dict[str, Image.Image] = {}
    with console.progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("generating the world", total=config.scenes)
        for index in range(config.scenes):
            split = world.split_of(index)
            if split in records:
                item = world.item(index)
                chosen = item.records["vqa"] + item.records["captions"]
                records[split] += chosen
                if chosen:
                    key = str(chosen[0].image)
                    images[key] = render_scene(
                        item.scene, config.image_size, texture=config.texture
                    )
            bar.advance(task)
    return SplitRecords(records, images)


def world_config(scenes: int, seed: int, split: str, languages: Sequence[str] = ()) -> WorldConfig:
    """A world with questions and captions only (the other tasks switched off)."""
    return WorldConfig(
        scenes=scenes,
        seed=seed,
        split=split,
        **({"languages": tuple(languages)} if languages else {}),
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )


def read_records(spec: str, splits: Sequence[str], languages: Sequence[str] = ()) -> SplitRecords:
    """The VQA and caption records of ``splits`` of a reader's data (``"FORMAT:PATH"``); bad
    items and records whose image is missing are skipped and counted."""
    records: dict[str, list[Record]] = {}
    skipped = missing = 0
    for split in splits:
        dataset = read_dataset(
            spec,
            kinds=(VQAExample, CaptionExample),
            split=split,
            languages=list(languages) or None,
            on_missing_image="skip",
            on_bad_item="skip",
        )
        skipped += len(dataset.skipped)
        missing += len(dataset.missing_images)
        records[split] = dataset.of_kind(VQAExample) + dataset.of_kind(CaptionExample)
    return SplitRecords(records, None, skipped, missing)


def build_examples(
    records: Sequence[Record],
    kinds: Sequence[str] = KINDS,
    images: dict[str, Image.Image] | None = None,
) -> ExampleSet:
    """The examples of ``records`` (of the chosen kinds) and their distinct images, in record
    order. ``images`` gives the images of a generated world by ``str(record.image)``."""
    keys: dict[str, int] = {}
    sources: list[ImageSource] = []
    examples: list[VLMExample] = []

    def image_index(record: VQAExample | CaptionExample) -> int | None:
        if record.image is None:
            return None
        key = str(record.image)
        if key not in keys:
            keys[key] = len(sources)
            sources.append(images[key] if images is not None else record.image)
        return keys[key]

    for record in records:
        if isinstance(record, VQAExample) and "vqa" in kinds and record.answers:
            index = image_index(record)
            if index is not None:
                answer = record.answer_counts.most_common(1)[0][0]
                examples.append(
                    VLMExample(
                        index,
                        "vqa",
                        record.question,
                        answer,
                        record.language,
                        record.question_type,
                    )
                )
        elif isinstance(record, CaptionExample) and "captions" in kinds:
            index = image_index(record)
            if index is not None:
                examples += [
                    VLMExample(index, "captions", "", caption, record.language)
                    for caption in record.captions
                ]
    return ExampleSet(examples, sources, list(keys))


def sample_pool(examples: Sequence[VLMExample], size: int, seed: int) -> list[VLMExample]:
    """``size`` examples drawn uniformly without replacement (in their original order), or all
    of them when ``size`` is 0 or at least their number."""
    if size <= 0 or size >= len(examples):
        return list(examples)
    rng = np.random.default_rng(derive_seed(seed, "pool"))
    chosen = np.sort(rng.choice(len(examples), size=size, replace=False))
    return [examples[int(i)] for i in chosen]


__all__ = [
    "KINDS",
    "ExampleSet",
    "SplitRecords",
    "VLMExample",
    "build_examples",
    "generate_world_records",
    "read_records",
    "sample_pool",
    "world_config",
]
