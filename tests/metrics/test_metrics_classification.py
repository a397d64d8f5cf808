"""Exact match and categorical accuracy, computed by hand."""

from __future__ import annotations

import pytest

from vislang.metrics import categorical_accuracy, exact_match


def test_exact_match_normalises_case_and_spaces_by_default() -> None:
    score = exact_match(["Open  drawer", "close door", "cut"], ["open drawer", "open door", "cut "])
    assert score.per_item.tolist() == [1.0, 0.0, 1.0]
    assert score.corpus == pytest.approx(2 / 3)
    raw = exact_match(["Open drawer"], ["open drawer"], normalize=None)
    assert raw.corpus == 0.0


def test_categorical_accuracy_counts_same_class_and_unknown_predictions() -> None:
    classes = {"cut": "cut", "slice": "cut", "chop": "cut", "pour": "pour", "fill": "pour"}
    result = categorical_accuracy(
        ["slice", "fill", "Chop", "jump"], ["cut", "cut", "cut", "pour"], classes
    )
    assert result.score.per_item.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert result.score.corpus == 0.5
    assert result.unknown_predictions == 1
    with pytest.raises(ValueError, match=r"target 0 \('stir'\) is not in the class map"):
        categorical_accuracy(["cut"], ["stir"], classes)


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        exact_match(["a", "b"], ["a"])
