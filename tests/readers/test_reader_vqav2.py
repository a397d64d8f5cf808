"""VQAv2 questions and annotations, written as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_json

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError

ANSWERS = ["yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "no", "yes"]


def _questions(subset: str, questions: list[dict]) -> dict:
    return {
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
        "data_subtype": subset, "questions": questions,
    }  # fmt: skip


def _annotation(question_id: int, image_id: int, answers: list[str], answer_type: str) -> dict:
    return {
        "question_type": "is this",
        "multiple_choice_answer": max(set(answers), key=answers.count),
        "answers": [
            {"answer": a, "answer_confidence": "yes", "answer_id": k + 1}
            for k, a in enumerate(answers)
        ],
        "image_id": image_id,
        "answer_type": answer_type,
        "question_id": question_id,
    }


def _vqa(folder: Path, annotations: list[dict] | None = None) -> Path:
    write_json(
        folder / "v2_OpenEnded_mscoco_val2014_questions.json",
        _questions(
            "val2014",
            [
                {"image_id": 262148, "question": "Is this a skateboard?", "question_id": 262148000},
                {"image_id": 262148, "question": "How many people?", "question_id": 262148001},
            ],
        ),
    )
    write_json(
        folder / "v2_mscoco_val2014_annotations.json",
        {
            "info": {}, "license": {}, "data_subtype": "val2014", "data_type": "mscoco",
            "annotations": annotations if annotations is not None else [
                _annotation(262148000, 262148, ANSWERS, "yes/no"),
                _annotation(262148001, 262148, ["2"] * 7 + ["3"] * 3, "number"),
            ],
        },
    )  # fmt: skip
    return folder


def test_vqav2_questions_joined_with_their_ten_answers(tmp_path: Path) -> None:
    data = read_dataset(f"vqav2:{_vqa(tmp_path)}")
    first, second = data.records
    assert first.id == "262148000"
    assert first.question == "Is this a skateboard?"
    assert first.answers == tuple(ANSWERS)
    assert first.answer_counts == {"yes": 9, "no": 1}
    assert (first.question_type, first.answer_type) == ("is this", "yes/no")
    assert first.split == "val"
    assert first.image == tmp_path / "val2014" / "COCO_val2014_000000262148.jpg"
    assert first.meta["multiple_choice_answer"] == "yes"
    assert first.meta["answer_confidence"] == ["yes"] * 10
    assert second.answer_counts["2"] == 7 and second.answer_type == "number"


def test_vqav2_test_dev_questions_have_no_answers_and_test_images(tmp_path: Path) -> None:
    file = write_json(
        tmp_path / "v2_OpenEnded_mscoco_test-dev2015_questions.json",
        _questions("test-dev2015", [{"image_id": 1, "question": "Why?", "question_id": 10}]),
    )
    (record,) = read_dataset(f"vqav2:{file}", images=tmp_path / "coco").records
    assert record.answers == () and record.answer_type is None
    assert record.split == "test-dev"
    assert record.image == tmp_path / "coco" / "test2015" / "COCO_test2015_000000000001.jpg"


def test_vqav2_annotation_without_answers_field(tmp_path: Path) -> None:
    broken = _annotation(262148001, 262148, ["2"], "number")
    del broken["answers"]
    _vqa(tmp_path, [_annotation(262148000, 262148, ANSWERS, "yes/no"), broken])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"vqav2:{tmp_path}")
    assert info.value.field == "annotations[1].answers"
    assert info.value.path.endswith("v2_mscoco_val2014_annotations.json")


def test_vqav2_question_without_annotation(tmp_path: Path) -> None:
    _vqa(tmp_path, [_annotation(262148000, 262148, ANSWERS, "yes/no")])
    with pytest.raises(DataFormatError, match="no annotation") as info:
        read_dataset(f"vqav2:{tmp_path}")
    assert info.value.field == "questions[1].question_id"


def test_vqav2_annotation_without_question(tmp_path: Path) -> None:
    _vqa(
        tmp_path,
        [
            _annotation(262148000, 262148, ANSWERS, "yes/no"),
            _annotation(262148001, 262148, ["2"], "number"),
            _annotation(5, 262148, ["2"], "number"),
        ],
    )
    with pytest.raises(DataFormatError, match="1 annotations have no question"):
        read_dataset(f"vqav2:{tmp_path}")
