"""The Winoground probe: two images, two captions with the same words in a different order.

Each example's four (caption, image) pairs are scored with one
:class:`~vislang.probe.scoring.Scorer`; the strict text, image and group scores of
:mod:`vislang.metrics.winoground` are reported overall and by tag (Winoground's ``tag``: Object,
Relation, Both; the world's groups are Object or Relation swaps). Chance: 0.25, 0.25, 1/6.

A text-only score cannot pass: it gives each caption the same score with either image, so every
image comparison ties, and the text test asks for both captions to win. Examples whose images
cannot be read are left out and counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vislang.data.schema import WinogroundExample
from vislang.errors import ConfigError
from vislang.metrics.winoground import WinogroundScores, winoground_scores
from vislang.probe.scoring import Scorer

CHANCE: dict[str, float] = {"text": 0.25, "image": 0.25, "group": 1 / 6}
"""Scores of a random scorer (Thrush et al. 2022)."""

UNTAGGED = "untagged"


@dataclass(frozen=True)
class WinogroundProbe:
    """Winoground scores of one model, overall and by tag, and what was left out."""

    score_type: str
    overall: WinogroundScores
    tags: dict[str, WinogroundScores]
    left_out: dict[str, int] = field(default_factory=dict)
    failed_images: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: scores overall and by tag, chance, and what was left out."""
        return {
            "score": self.score_type,
            "chance": dict(CHANCE),
            "overall": self.overall.to_dict(),
            "tags": {tag: scores.to_dict() for tag, scores in self.tags.items()},
            "left_out": dict(self.left_out),
            "failed_images": [list(failure) for failure in self.failed_images],
        }


def winoground_table_scores(
    table: np.ndarray, tags: Sequence[str | None], *, score_type: str = "similarity"
) -> WinogroundProbe:
    """Scores from an ``(N, 2, 2)`` table ``table[n, caption, image]`` and each example's tag
    (``None``: untagged)."""
    table = np.asarray(table, dtype=float)
    if table.shape[0] != len(tags):
        raise ValueError(f"{table.shape[0]} score tables for {len(tags)} tags")
    by_tag: dict[str, list[int]] = defaultdict(list)
    for index, tag in enumerate(tags):
        by_tag[tag or UNTAGGED].append(index)
    return WinogroundProbe(
        score_type=score_type,
        overall=winoground_scores(table),
        tags={tag: winoground_scores(table[rows]) for tag, rows in sorted(by_tag.items())},
    )


def probe_winoground(
    scorer: Scorer, examples: Sequence[WinogroundExample], *, show_progress: bool = False
) -> WinogroundProbe:
    """Score the four (caption, image) pairs of every example with ``scorer`` and report the
    Winoground scores (a progress bar on stderr with ``show_progress``)."""
    left_out: Counter[str] = Counter()
    kept: list[WinogroundExample] = []
    for example in examples:
        missing = scorer.needs_images and not all(image.is_file() for image in example.images)
        if missing:
            left_out["missing_image"] += 1
        else:
            kept.append(example)
    if not kept:
        raise ConfigError(
            f"no Winoground example to score ({left_out['missing_image']} lack images)"
        )
    images, texts, languages = [], [], []
    for example in kept:
        for caption in example.captions:
            for image in example.images:
                images.append(image)
                texts.append(caption)
                languages.append(example.language)
    scored = scorer.score_pairs(images, texts, languages, show_progress=show_progress)
    table = scored.scores.reshape(-1, 2, 2)
    good = np.isfinite(table).all(axis=(1, 2))
    if not good.all():
        left_out["undecodable_image"] += int((~good).sum())
    if not good.any():
        raise ConfigError("no Winoground example could be scored: every image failed to decode")
    result = winoground_table_scores(
        table[good],
        [example.tag for example, ok in zip(kept, good, strict=True) if ok],
        score_type=scorer.score_type,
    )
    return WinogroundProbe(
        score_type=result.score_type,
        overall=result.overall,
        tags=result.tags,
        left_out=dict(left_out),
        failed_images=scored.failures,
    )


__all__ = ["CHANCE", "WinogroundProbe", "probe_winoground", "winoground_table_scores"]
