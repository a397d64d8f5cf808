"""VALSE foil scores (Parcalabescu et al. 2022): can a model tell a caption from its foil?

Each item has a caption and a foil (a minimally changed, false caption) for one image.

* ``acc_r`` (pairwise ranking accuracy): share of items whose caption scores strictly higher than
  the foil, under any score (cosine similarity, match score, log-likelihood, ...). Ties fail.

With a match probability for each text (an image-text matching head), also:

* ``p_c``: share of captions judged a match (probability > ``threshold``, 0.5 by default);
* ``p_f``: share of foils judged a non-match (probability <= ``threshold``);
* ``acc = (p_c + p_f) / 2``;
* ``auroc``: area under the ROC curve separating captions (positives) from foils (negatives) by
  their probability (:func:`sklearn.metrics.roc_auc_score`; ties count half).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FoilScores:
    """VALSE scores of a set of items (``None`` where match probabilities were not given)."""

    acc_r: float
    items: int
    p_c: float | None = None
    p_f: float | None = None
    acc: float | None = None
    auroc: float | None = None

    def to_dict(self) -> dict[str, float | int | None]:
        """The scores as a flat mapping."""
        return {
            "acc_r": self.acc_r,
            "p_c": self.p_c,
            "p_f": self.p_f,
            "acc": self.acc,
            "auroc": self.auroc,
            "items": self.items,
        }


def foil_scores(
    caption_scores: Sequence[float] | np.ndarray,
    foil_scores: Sequence[float] | np.ndarray,
    *,
    caption_match_probability: Sequence[float] | np.ndarray | None = None,
    foil_match_probability: Sequence[float] | np.ndarray | None = None,
    threshold: float = 0.5,
) -> FoilScores:
    """VALSE scores from per-item scores of the caption and of the foil (same item order).

    The match probabilities, when given, must be given for both captions and foils.
    """
    caption = _vector(caption_scores, "caption_scores")
    foil = _vector(foil_scores, "foil_scores")
    if caption.shape != foil.shape:
        raise ValueError(f"{caption.size} caption scores for {foil.size} foil scores")
    acc_r = float(np.mean(caption > foil)) if caption.size else float("nan")
    if caption_match_probability is None and foil_match_probability is None:
        return FoilScores(acc_r=acc_r, items=int(caption.size))
    if caption_match_probability is None or foil_match_probability is None:
        raise ValueError("give match probabilities for both the captions and the foils")
    p_caption = _vector(caption_match_probability, "caption_match_probability")
    p_foil = _vector(foil_match_probability, "foil_match_probability")
    if p_caption.shape != caption.shape or p_foil.shape != caption.shape:
        raise ValueError("one match probability per caption and per foil is needed")
    p_c = float(np.mean(p_caption > threshold))
    p_f = float(np.mean(p_foil <= threshold))
    return FoilScores(
        acc_r=acc_r,
        items=int(caption.size),
        p_c=p_c,
        p_f=p_f,
        acc=(p_c + p_f) / 2,
        auroc=_auroc(p_caption, p_foil),
    )


def _auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.concatenate([np.ones(positives.size), np.zeros(negatives.size)])
    return float(roc_auc_score(labels, np.concatenate([positives, negatives])))


def _vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one number per item, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN")
    return array
