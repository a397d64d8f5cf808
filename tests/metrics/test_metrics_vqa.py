"""VQA accuracy: the official normalisation and leave-one-out averaging, computed by hand."""

from __future__ import annotations

import pytest

from vislang.data.schema import VQAExample
from vislang.metrics import normalize_answer, vqa_accuracy, vqa_scores


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Two dogs.", "2 dogs"),  # number word, period
        ("the cat", "cat"),  # article
        ("An apple", "apple"),
        ("dont know", "don't know"),  # contraction restored
        ("yes!", "yes"),  # mark without a space beside it becomes a space, then stripped
        ("left / right", "left right"),  # mark next to a space is deleted
        ("black/white", "black white"),
        ("1,000.5 cm", "1000.5 cm"),  # a digit-comma-digit group: every mark deleted
        (" none\t", "0"),
        ("3.5", "3.5"),  # a period before a digit stays
    ],
)
def test_official_answer_normalisation(raw, normalised) -> None:
    assert normalize_answer(raw) == normalised


def test_leave_one_out_accuracy_by_hand() -> None:
    # 3 of 10 said "yes": leaving out a "yes" leaves 2 matches (2/3), leaving out a "no" 3 (1)
    assert vqa_accuracy("yes", ["yes"] * 3 + ["no"] * 7) == pytest.approx((3 * 2 / 3 + 7) / 10)
    assert vqa_accuracy("yes", ["yes"] * 2 + ["no"] * 8) == pytest.approx(
        (2 * 1 / 3 + 8 * 2 / 3) / 10
    )
    assert vqa_accuracy("yes", ["yes"] + ["no"] * 9) == pytest.approx(9 * (1 / 3) / 10)
    assert vqa_accuracy("yes", ["yes"] * 4 + ["no"] * 6) == 1.0
    assert vqa_accuracy("maybe", ["yes"] * 10) == 0.0


def test_prediction_is_normalised_answers_only_when_annotators_disagree() -> None:
    assert vqa_accuracy("Two.", ["2"] * 10) == 1.0
    assert vqa_accuracy("two", ["two"] * 10) == 0.0  # official: "two" -> "2", answers untouched
    # disagreeing annotators get their punctuation processed ("yes." -> "yes") ...
    assert vqa_accuracy("yes", ["yes."] * 5 + ["no"] * 5) == 1.0
    # ... where a mark with no space beside it becomes a space that is not stripped again
    assert vqa_accuracy("yes", ["yes!"] * 5 + ["no"] * 5) == 0.0


def test_scores_over_vqa_examples() -> None:
    examples = [
        VQAExample("q1", None, "What colour?", ("red",) * 10, "en", "test"),
        VQAExample("q2", None, "How many?", ("2",) * 3 + ("3",) * 7, "en", "test"),
    ]
    score = vqa_scores(["Red", "two"], [example.answers for example in examples])
    assert score.name == "VQA accuracy"
    assert score.per_item.tolist() == pytest.approx([1.0, 0.9])
    assert score.corpus == pytest.approx(0.95)
    with pytest.raises(ValueError, match="2 predictions for 1 questions"):
        vqa_scores(["a", "b"], [("a",)])
    with pytest.raises(ValueError, match="at least one annotator"):
        vqa_accuracy("a", [])
