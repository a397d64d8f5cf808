"""The synthetic world's text as language-model data: which records give which texts.

Stage 0 pretrains a causal language model on the world's text before it sees any image. Each
record kind contributes plain texts, one training sequence each:

==============  =====================================================================
kind            text
==============  =====================================================================
``captions``    every caption of a :class:`~vislang.data.schema.CaptionExample`
``vqa``         the question, a space, the gold answer ("How many red stars are there? 2")
``statements``  the statement, true and false ones alike (both are grammatical)
``sequences``   the step descriptions and the target description, one per line
==============  =====================================================================

Foils and Winoground captions are left out on purpose: probes score them with the language
model (the text-only baseline), and a prior learnt from the probe sentences themselves would blur
what the probe measures. Texts come from a world folder (``vislang world generate``) or from a
world generated in memory; only the requested splits are kept, so a model pretrained on the
``train`` split of a compositional world has never read a held-out compound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vislang import console
from vislang.data.schema import (
    CaptionExample,
    Record,
    SequenceExample,
    StatementExample,
    VQAExample,
)
from vislang.data.world import World, WorldConfig
from vislang.errors import ConfigError

TEXT_KINDS: tuple[str, ...] = ("captions", "vqa", "statements", "sequences")
"""Record kinds that contribute text, named as the world's task files."""

_RECORD_CLASSES: dict[str, type] = {
    "captions": CaptionExample,
    "vqa": VQAExample,
    "statements": StatementExample,
    "sequences": SequenceExample,
}

STAGE0_WORLD = WorldConfig(scenes=2000, seed=0, split="compositional")
"""The world stage 0 reads by default (and the ``causal_lm-tiny`` preset's tokenizer is trained
on): 2,000 scenes, seed 0, compositional splits, all seven languages."""


@dataclass(frozen=True, slots=True)
class LMText:
    """One training or evaluation text with where it came from."""

    text: str
    language: str
    kind: str
    split: str


def record_texts(record: Record) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs a record contributes; records of other kinds contribute none."""
    if isinstance(record, CaptionExample):
        return [("captions", caption) for caption in record.captions]
    if isinstance(record, VQAExample):
        return [("vqa", f"{record.question} {record.answers[0]}")] if record.answers else []
    if isinstance(record, StatementExample):
        return [("statements", record.statement)]
    if isinstance(record, SequenceExample):
        lines = [step.description for step in record.steps] + [record.target]
        return [("sequences", "\n".join(lines))]
    return []


def texts_from_records(
    records: Iterable[Record],
    splits: Sequence[str],
    kinds: Sequence[str] = TEXT_KINDS,
    languages: Sequence[str] | None = None,
) -> list[LMText]:
    """The texts of ``records`` whose split, kind and language are asked for, in record order."""
    _check_kinds(kinds)
    wanted_splits, wanted_kinds = set(splits), set(kinds)
    wanted_languages = set(languages) if languages else None
    texts = []
    for record in records:
        split = getattr(record, "split", None)
        if split not in wanted_splits:
            continue
        if wanted_languages is not None and record.language not in wanted_languages:
            continue
        for kind, text in record_texts(record):
            if kind in wanted_kinds:
                texts.append(LMText(text, record.language, kind, split))
    return texts


def texts_from_world(
    config: WorldConfig,
    splits: Sequence[str],
    kinds: Sequence[str] = TEXT_KINDS,
    languages: Sequence[str] | None = None,
    show_progress: bool = True,
) -> list[LMText]:
    """Generate the world ``config`` in memory (nothing is written) and return its texts."""
    _check_languages(languages, config.languages, f"world with seed {config.seed}")
    world = World(config)
    texts: list[LMText] = []
    with console.progress(transient=True, disable=not show_progress) as bar:
        bar_id = bar.add_task("world text", total=config.scenes)
        for index in range(config.scenes):
            if world.split_of(index) in splits:  # other scenes are not generated at all
                item = world.item(index)
                records = (r for task in kinds for r in item.records.get(task, ()))
                texts += texts_from_records(records, splits, kinds, languages)
            bar.update(bar_id, advance=1)
    return texts


def texts_from_folder(
    folder: str | Path,
    splits: Sequence[str],
    kinds: Sequence[str] = TEXT_KINDS,
    languages: Sequence[str] | None = None,
) -> list[LMText]:
    """The texts of a world folder written by ``vislang world generate`` (images not needed)."""
    from vislang.data.readers import read_dataset

    _check_kinds(kinds)
    dataset = read_dataset(f"world:{folder}", kinds=tuple(_RECORD_CLASSES[kind] for kind in kinds))
    _check_languages(languages, dataset.languages(), str(folder))
    return texts_from_records(dataset.records, splits, kinds, languages)


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = sorted(set(kinds) - set(TEXT_KINDS))
    if unknown or not kinds:
        raise ConfigError(
            f"text kinds must be some of {', '.join(TEXT_KINDS)}; got {', '.join(kinds) or 'none'}"
        )


def _check_languages(languages: Sequence[str] | None, available: Sequence[str], where: str) -> None:
    missing = sorted(set(languages or ()) - set(available))
    if missing:
        raise ConfigError(
            f"{where}: has no text in {', '.join(missing)} (languages: {', '.join(available)})"
        )
