"""Winoground text, image and group scores (Thrush et al. 2022).

Each example has captions ``c0, c1`` and images ``i0, i1``, ``c0`` true of ``i0`` and ``c1`` of
``i1``; ``s(c, i)`` is any model score (higher = better match). Per example:

* text: ``s(c0,i0) > s(c1,i0)`` and ``s(c1,i1) > s(c0,i1)`` (each image: right caption wins);
* image: ``s(c0,i0) > s(c0,i1)`` and ``s(c1,i1) > s(c1,i0)`` (each caption: right image wins);
* group: text and image.

Comparisons are strict: a tie fails. Scores are the shares of examples (chance: 0.25, 0.25, 1/6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WinogroundScores:
    """Shares of examples passing each test, and the per-example results (boolean arrays)."""

    text: float
    image: float
    group: float
    text_correct: np.ndarray
    image_correct: np.ndarray
    group_correct: np.ndarray

    def to_dict(self) -> dict[str, float]:
        """``{"text": ..., "image": ..., "group": ..., "examples": n}``."""
        return {
            "text": self.text,
            "image": self.image,
            "group": self.group,
            "examples": int(self.text_correct.size),
        }


ScoreTable = Mapping[str, float]  # keys "c0_i0", "c0_i1", "c1_i0", "c1_i1"


def winoground_scores(scores: np.ndarray | Sequence[ScoreTable]) -> WinogroundScores:
    """Winoground scores from an (N, 2, 2) array ``scores[n, caption, image]`` or from one
    mapping per example with keys ``c0_i0``, ``c0_i1``, ``c1_i0``, ``c1_i1``."""
    table = _as_array(scores)
    c0_i0, c0_i1 = table[:, 0, 0], table[:, 0, 1]
    c1_i0, c1_i1 = table[:, 1, 0], table[:, 1, 1]
    text = (c0_i0 > c1_i0) & (c1_i1 > c0_i1)
    image = (c0_i0 > c0_i1) & (c1_i1 > c1_i0)
    group = text & image
    return WinogroundScores(
        text=_share(text),
        image=_share(image),
        group=_share(group),
        text_correct=text,
        image_correct=image,
        group_correct=group,
    )


def _as_array(scores: np.ndarray | Sequence[ScoreTable]) -> np.ndarray:
    if isinstance(scores, np.ndarray):
        table = scores.astype(float)
    elif len(scores) and isinstance(scores[0], Mapping):
        try:
            table = np.array(
                [[[s["c0_i0"], s["c0_i1"]], [s["c1_i0"], s["c1_i1"]]] for s in scores],
                dtype=float,
            )
        except KeyError as missing:
            raise ValueError(f"a Winoground score table lacks the key {missing}") from None
    else:
        table = np.asarray(scores, dtype=float)
    if table.ndim != 3 or table.shape[1:] != (2, 2):
        raise ValueError(f"Winoground scores must have shape (N, 2, 2), got {table.shape}")
    return table


def _share(correct: np.ndarray) -> float:
    return float(correct.mean()) if correct.size else float("nan")
