"""Exact match and categorical accuracy of predicted labels or short texts.

* exact match: a prediction scores 1 when it equals its target after normalisation (by default
  :func:`normalize_text`: lower-cased, whitespace collapsed, ends stripped), else 0;
* categorical accuracy: a prediction scores 1 when it falls in the same class as its target
  under a class map (e.g. CompAct's semantic classes of verbs and nouns: predicting "cut" for
  "slice" is right when both are in the class "cut"). Predictions missing from the map score 0
  and are counted; targets missing from it are an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vislang.metrics.metric_score import MetricScore


def normalize_text(text: str) -> str:
    """Lower-case, collapse runs of whitespace to one space and strip the ends."""
    return " ".join(text.lower().split())


def exact_match(
    predictions: Sequence[str],
    targets: Sequence[str],
    normalize: Callable[[str], str] | None = normalize_text,
) -> MetricScore:
    """Share of predictions equal to their target (named ``exact match``); ``normalize=None``
    compares the raw strings."""
    _same_length(predictions, targets)
    norm = normalize or (lambda text: text)
    per_item = np.array(
        [norm(p) == norm(t) for p, t in zip(predictions, targets, strict=True)], dtype=float
    )
    return MetricScore("exact match", _mean(per_item), per_item)


@dataclass(frozen=True)
class CategoricalAccuracy:
    """Categorical accuracy and how many predictions the class map did not know."""

    score: MetricScore
    unknown_predictions: int


def categorical_accuracy(
    predictions: Sequence[str],
    targets: Sequence[str],
    class_of: Mapping[str, str],
    normalize: Callable[[str], str] | None = normalize_text,
) -> CategoricalAccuracy:
    """Share of predictions in the same class as their target (named ``categorical accuracy``).

    ``class_of`` maps a label to its class; its keys are normalised like the predictions.
    """
    _same_length(predictions, targets)
    norm = normalize or (lambda text: text)
    classes = {norm(label): group for label, group in class_of.items()}
    per_item = np.zeros(len(predictions))
    unknown = 0
    for index, (prediction, target) in enumerate(zip(predictions, targets, strict=True)):
        target_class = classes.get(norm(target))
        if target_class is None:
            raise ValueError(f"target {index} ({target!r}) is not in the class map")
        predicted_class = classes.get(norm(prediction))
        if predicted_class is None:
            unknown += 1
        per_item[index] = float(predicted_class == target_class)
    return CategoricalAccuracy(
        MetricScore("categorical accuracy", _mean(per_item), per_item), unknown
    )


def _same_length(predictions: Sequence[str], targets: Sequence[str]) -> None:
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
