"""VQAv2: questions (``v2_OpenEnded_mscoco_<subset>_questions.json``) and, except for the test
sets, annotations (``v2_mscoco_<subset>_annotations.json``) with ten answers per question.

One :class:`VQAExample` per question: ``answers`` holds the ten annotators' answers in order
(the official accuracy needs them all), ``question_type`` and ``answer_type`` come from the
annotations, ``meta`` keeps ``multiple_choice_answer``, the answer confidences and the image id.
Test questions have no answers (``answers == ()``). Images are
``<images>/<subset>/COCO_<subset>_<image_id:012d>.jpg`` (test-dev questions use the test images);
the split is the subset without its year.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import load_json, need
from vislang.data.readers.registry import register_reader
from vislang.data.schema import Record, VQAExample
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="vqav2",
    title="VQAv2: Visual Question Answering, balanced",
    task_types=("classification", "generation"),
    tasks="visual question answering (usually a classifier over frequent answers)",
    languages=("en",),
    licence="annotations CC BY 4.0; images from COCO, each under its Flickr licence",
    citation=(
        "Goyal, Khot, Summers-Stay, Batra & Parikh (2017). Making the V in VQA Matter: "
        "Elevating the Role of Image Understanding in Visual Question Answering. CVPR."
    ),
    scope=(
        "broad: open-ended questions about COCO images; 1.1M image-question pairs, balanced so "
        "that similar images have different answers"
    ),
    annotator_relationship="hired: crowdworkers wrote questions; ten other workers answered each",
    images="COCO photographs (Flickr); many show people",
    texts="English questions written from scratch about the image; short free-form answers",
    binding=(
        "strong: questions need the image; complementary image pairs reduce the answers a "
        "language prior alone could guess"
    ),
    homepage="https://visualqa.org",
)

_SUBSET = re.compile(r"(train|val|test-dev|test)(\d{4})$")
_ANNOTATIONS = re.compile(r"_(?P<subset>[a-z-]+\d{4})_annotations\.json$")


@register_reader(
    "vqav2",
    card=CARD,
    layout=(
        "folder holding *_questions.json and *_annotations.json (or one questions file); images "
        "at <images>/<subset>/COCO_<subset>_<image_id:012d>.jpg"
    ),
    kinds=(VQAExample,),
    options={"images": "folder holding the <subset>/ image folders (default: PATH)"},
)
def read_vqav2(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read VQAv2 questions, joined with their annotations when the file is there."""
    if path.is_file():
        question_files, folder = [path], path.parent
    else:
        question_files, folder = sorted(path.glob("*_questions.json")), path
        if not question_files:
            raise DataFormatError(path, "no *_questions.json file found")
    image_root = Path(images) if images is not None else folder
    annotation_files = {
        m["subset"]: f
        for f in folder.glob("*_annotations.json")
        if (m := _ANNOTATIONS.search(f.name))
    }
    records: list[Record] = []
    for file in question_files:
        questions = load_json(file)
        subset = need(questions, "data_subtype", str, path=file)
        if questions.get("data_type", "mscoco") != "mscoco":
            raise DataFormatError(
                file, "only COCO-image (mscoco) questions are read", field="data_type"
            )
        annotation_file = annotation_files.get(subset)
        answers = _answers(annotation_file) if annotation_file else None
        match = _SUBSET.match(subset)
        split = match[1] if match else subset
        image_subset = subset.replace("test-dev", "test")  # test-dev questions use test images
        for index, question in enumerate(need(questions, "questions", list, path=file)):
            where = f"questions[{index}]."
            with ctx.item(item_id=f"questions[{index}]"):
                question_id = need(question, "question_id", int, path=file, where=where)
                image_id = need(question, "image_id", int, path=file, where=where)
                meta: dict[str, Any] = {"image_id": image_id, "subset": subset}
                answer: dict[str, Any] = {"answers": (), "question_type": None, "answer_type": None}
                if answers is not None:
                    if question_id not in answers:
                        raise DataFormatError(
                            file, "question has no annotation", field=where + "question_id"
                        )
                    answer = answers.pop(question_id)
                    meta.update(answer.pop("meta"))
                records.append(
                    VQAExample(
                        id=str(question_id),
                        image=image_root
                        / image_subset
                        / f"COCO_{image_subset}_{image_id:012d}.jpg",
                        question=need(question, "question", str, path=file, where=where),
                        language="en",
                        source="vqav2",
                        split=split,
                        meta=meta,
                        **answer,
                    )
                )
        if answers:
            orphan = next(iter(answers))
            raise DataFormatError(
                annotation_file,
                f"{len(answers)} annotations have no question, e.g. question {orphan}",
                field="annotations",
            )
    return records


def _answers(file: Path) -> dict[int, dict[str, Any]]:
    """Answers, question type, answer type and extras per question id of an annotation file."""
    data = load_json(file)
    out: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(need(data, "annotations", list, path=file)):
        where = f"annotations[{index}]."
        question_id = need(item, "question_id", int, path=file, where=where)
        answers = need(item, "answers", list, path=file, where=where)
        texts = tuple(
            need(a, "answer", str, path=file, where=f"{where}answers[{k}].", allow_empty=True)
            for k, a in enumerate(answers)
        )
        out[question_id] = {
            "answers": texts,
            "question_type": need(item, "question_type", str, path=file, where=where),
            "answer_type": need(item, "answer_type", str, path=file, where=where),
            "meta": {
                "multiple_choice_answer": item.get("multiple_choice_answer"),
                "answer_confidence": [a.get("answer_confidence") for a in answers],
            },
        }
    return out
