"""Winoground and VALSE scores, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vislang.metrics import foil_scores, winoground_scores


def test_winoground_by_hand() -> None:
    scores = np.array(
        [
            [[0.9, 0.1], [0.2, 0.8]],  # all right: text, image, group
            [[0.9, 0.95], [0.2, 0.99]],  # text right; image wrong (c0 prefers i1)
            [[0.5, 0.1], [0.9, 0.95]],  # text wrong (c1 wins for i0); image right
            [[0.5, 0.5], [0.1, 0.6]],  # a tie: c0 scores i0 and i1 equally -> image fails
        ]
    )
    result = winoground_scores(scores)
    assert result.text_correct.tolist() == [True, True, False, True]
    assert result.image_correct.tolist() == [True, False, True, False]
    assert result.group_correct.tolist() == [True, False, False, False]
    assert result.to_dict() == {"text": 0.75, "image": 0.5, "group": 0.25, "examples": 4}


def test_winoground_from_score_tables_and_bad_shapes() -> None:
    tables = [{"c0_i0": 2.0, "c0_i1": 1.0, "c1_i0": 1.0, "c1_i1": 2.0}]
    assert winoground_scores(tables).group == 1.0
    with pytest.raises(ValueError, match="lacks the key 'c1_i1'"):
        winoground_scores([{"c0_i0": 1, "c0_i1": 0, "c1_i0": 0}])
    with pytest.raises(ValueError, match=r"shape \(N, 2, 2\)"):
        winoground_scores(np.zeros((3, 2)))


def test_valse_pairwise_accuracy_is_strict() -> None:
    result = foil_scores([0.9, 0.5, 0.3, 0.7], [0.1, 0.5, 0.4, 0.2])
    assert result.acc_r == 0.5  # the tie (0.5, 0.5) fails
    assert result.p_c is None and result.auroc is None
    assert result.items == 4


def test_valse_match_probabilities_by_hand() -> None:
    result = foil_scores(
        [3.0, 1.0, 2.0],
        [1.0, 2.0, 0.0],
        caption_match_probability=[0.9, 0.6, 0.5],
        foil_match_probability=[0.1, 0.7, 0.5],
    )
    assert result.acc_r == pytest.approx(2 / 3)
    assert result.p_c == pytest.approx(2 / 3)  # 0.5 is not above the threshold
    assert result.p_f == pytest.approx(2 / 3)  # 0.1 and 0.5 judged non-match
    assert result.acc == pytest.approx(2 / 3)
    # pairs caption > foil: 0.9 beats 3; 0.6 beats 0.1 and 0.5; 0.5 beats 0.1, ties 0.5 (half)
    assert result.auroc == pytest.approx((3 + 2 + 1.5) / 9)


def test_valse_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="3 caption scores for 2 foil scores"):
        foil_scores([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="both the captions and the foils"):
        foil_scores([1], [0], caption_match_probability=[0.5])
    with pytest.raises(ValueError, match="NaN"):
        foil_scores([float("nan")], [0.0])
