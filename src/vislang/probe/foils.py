"""The foil probe (VALSE): does a model score an image's caption above its foil?

Every item is scored twice with one :class:`~vislang.probe.scoring.Scorer` (caption and foil
against the item's image) and the VALSE scores of :mod:`vislang.metrics.foils` are reported per
phenomenon, per category and overall: ``acc_r`` always; with ``match`` scores (probabilities)
also ``p_c``, ``p_f``, ``acc`` and AUROC. Chance ``acc_r`` is 0.5.

Categories follow VL-CheckList's object / attribute / relation split (:data:`CATEGORIES`); a
phenomenon without one (VALSE's coreference) counts only overall.

Items VALSE judged invalid are left out (``valid_only``), as are items whose image is missing
or cannot be decoded when the score needs images; each is counted in :attr:`FoilProbe.left_out`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vislang.data.schema import FoilExample
from vislang.errors import ConfigError
from vislang.metrics.foils import FoilScores, foil_scores
from vislang.probe.scoring import Scorer

CHANCE_ACC_R = 0.5
"""What a model that cannot tell caption from foil gets."""

CATEGORIES: dict[str, str] = {
    # the world's phenomena
    "existence": "object",
    "noun_replacement": "object",
    "plurality": "attribute",
    "counting": "attribute",
    "attribute_swap": "attribute",
    "spatial_relation": "relation",
    # VALSE's pieces
    "foil-it": "object",
    "plurals": "attribute",
    "counting-hard": "attribute",
    "counting-small-quant": "attribute",
    "counting-adversarial": "attribute",
    "relations": "relation",
    "action-replacement": "relation",
    "actant-swap": "relation",
}
"""Phenomenon → VL-CheckList category (object, attribute, relation). Existence and noun
replacement test objects; number and colour binding test attributes; spatial relations and
actions test relations."""

CATEGORY_ORDER: tuple[str, ...] = ("object", "attribute", "relation")


@dataclass(frozen=True)
class FoilProbe:
    """VALSE scores of one model: per phenomenon, per category and overall, and what was left
    out (counts by reason, and the images that failed to decode)."""

    score_type: str
    phenomena: dict[str, FoilScores]
    categories: dict[str, FoilScores]
    overall: FoilScores
    left_out: dict[str, int] = field(default_factory=dict)
    failed_images: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: scores (with :func:`against_chance`) by phenomenon and category, overall,
        chance and what was left out."""
        return {
            "score": self.score_type,
            "chance_acc_r": CHANCE_ACC_R,
            "overall": _scores_dict(self.overall),
            "phenomena": {name: _scores_dict(s) for name, s in self.phenomena.items()},
            "categories": {name: _scores_dict(s) for name, s in self.categories.items()},
            "left_out": dict(self.left_out),
            "failed_images": [list(failure) for failure in self.failed_images],
        }


def against_chance(scores: FoilScores) -> dict[str, Any]:
    """How sure ``acc_r`` is above chance: its 95% Wilson interval (``acc_r_ci95``) and the
    one-sided exact binomial test's p-value against 0.5 (``p_above_chance``), by
    :func:`scipy.stats.binomtest`; empty without items."""
    if scores.items == 0:
        return {}
    from scipy.stats import binomtest

    wins = round(scores.acc_r * scores.items)
    interval = binomtest(wins, scores.items).proportion_ci(0.95, method="wilson")
    above = binomtest(wins, scores.items, CHANCE_ACC_R, alternative="greater")
    return {
        "acc_r_ci95": [float(interval.low), float(interval.high)],
        "p_above_chance": float(above.pvalue),
    }


def _scores_dict(scores: FoilScores) -> dict[str, Any]:
    return {**scores.to_dict(), **against_chance(scores)}


def foil_table_scores(
    phenomena: Sequence[str],
    caption_scores: Sequence[float] | np.ndarray,
    foil_scores_: Sequence[float] | np.ndarray,
    *,
    score_type: str = "similarity",
) -> FoilProbe:
    """VALSE scores from a table of items: each item's phenomenon and the scores of its caption
    and foil. With ``score_type="match"`` the scores are match probabilities and ``p_c``,
    ``p_f``, ``acc`` and AUROC are reported too."""
    caption = np.asarray(caption_scores, dtype=float)
    foil = np.asarray(foil_scores_, dtype=float)
    if not len(phenomena) == caption.size == foil.size:
        raise ValueError(
            f"{len(phenomena)} phenomena, {caption.size} caption scores, {foil.size} foil scores"
        )
    groups: dict[str, list[int]] = defaultdict(list)
    categories: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(phenomena):
        groups[name].append(index)
        if name in CATEGORIES:
            categories[CATEGORIES[name]].append(index)

    def scores(rows: Sequence[int] | slice) -> FoilScores:
        if score_type == "match":
            return foil_scores(
                caption[rows],
                foil[rows],
                caption_match_probability=caption[rows],
                foil_match_probability=foil[rows],
            )
        return foil_scores(caption[rows], foil[rows])

    return FoilProbe(
        score_type=score_type,
        phenomena={name: scores(rows) for name, rows in sorted(groups.items())},
        categories={
            name: scores(categories[name]) for name in CATEGORY_ORDER if name in categories
        },
        overall=scores(slice(None)),
    )


def probe_foils(
    scorer: Scorer,
    examples: Sequence[FoilExample],
    *,
    valid_only: bool = True,
    show_progress: bool = False,
) -> FoilProbe:
    """Score every item's caption and foil against its image with ``scorer`` and report the
    VALSE scores (see the module docstring for what is left out); a progress bar on stderr
    with ``show_progress``."""
    left_out: Counter[str] = Counter()
    kept: list[FoilExample] = []
    for example in examples:
        if valid_only and not example.valid:
            left_out["invalid"] += 1
        elif scorer.needs_images and (example.image is None or not example.image.is_file()):
            left_out["missing_image"] += 1
        else:
            kept.append(example)
    if not kept:
        reasons = ", ".join(f"{count} {why}" for why, count in sorted(left_out.items()))
        raise ConfigError(f"no foil item to score ({reasons or 'none given'})")
    images = [example.image for example in kept for _ in range(2)]
    texts = [text for example in kept for text in (example.caption, example.foil)]
    languages = [example.language for example in kept for _ in range(2)]
    scored = scorer.score_pairs(images, texts, languages, show_progress=show_progress)
    pairs = scored.scores.reshape(-1, 2)
    good = np.isfinite(pairs).all(axis=1)
    if not good.all():
        left_out["undecodable_image"] += int((~good).sum())
    if not good.any():
        raise ConfigError("no foil item could be scored: every image failed to decode")
    result = foil_table_scores(
        [example.phenomenon for example, ok in zip(kept, good, strict=True) if ok],
        pairs[good, 0],
        pairs[good, 1],
        score_type=scorer.score_type,
    )
    return FoilProbe(
        score_type=result.score_type,
        phenomena=result.phenomena,
        categories=result.categories,
        overall=result.overall,
        left_out=dict(left_out),
        failed_images=scored.failures,
    )


__all__ = [
    "CATEGORIES",
    "CATEGORY_ORDER",
    "CHANCE_ACC_R",
    "FoilProbe",
    "against_chance",
    "foil_table_scores",
    "probe_foils",
]
