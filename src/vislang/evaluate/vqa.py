"""Visual question answering with a vision-language model: official VQA accuracy, broken down by
question type and language.

:func:`answer_questions` asks a model (:class:`~vislang.models.vision_language.
VisionLanguageModel`) every question of a list of :class:`~vislang.data.schema.VQAExample`
records, open-ended: greedy decoding after the model's question prompt, the answer being the
generated text up to the end-of-text token. Each distinct image is decoded and encoded by the
vision tower once, however many questions it has; images that cannot be decoded are skipped and
listed. :func:`score_vqa` scores predictions with :func:`vislang.metrics.vqa.vqa_accuracy` (the
official metric: min(#annotators who gave the answer / 3, 1) over the leave-one-out subsets; the
synthetic world's records repeat the gold answer ten times, so it is exact match after the
official normalisation) and reports the mean over all questions, per ``question_type``, per
``language`` and per (type, language). Baselines that answer without the image are in
:mod:`vislang.evaluate.vqa_baselines`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from vislang.console import progress
from vislang.data.images import ImageSource
from vislang.data.schema import VQAExample
from vislang.metrics.vqa import vqa_accuracy
from vislang.models.vision_language import ANSWER_MAX_NEW_TOKENS, VisionLanguageModel
from vislang.models.vision_tower import tower_features

UNTYPED = "all"
"""The ``question_type`` reported for records without one."""


@dataclass
class VQAReport:
    """VQA accuracy (fractions in [0, 1]) overall and broken down; ``predictions`` holds one row
    per answered question (``id``, ``question``, ``answer`` (the most frequent annotator answer),
    ``prediction``, ``accuracy``, ``question_type``, ``language``)."""

    accuracy: float
    questions: int
    by_type: dict[str, float]
    by_language: dict[str, float]
    by_type_language: dict[str, dict[str, float]]
    predictions: list[dict[str, Any]] = field(default_factory=list)
    failed_images: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self, with_predictions: bool = False) -> dict[str, Any]:
        """A JSON-ready summary (predictions only when asked for)."""
        result: dict[str, Any] = {
            "accuracy": self.accuracy,
            "questions": self.questions,
            "by_type": self.by_type,
            "by_language": self.by_language,
            "by_type_language": self.by_type_language,
            "failed_images": [{"image": s, "reason": r} for s, r in self.failed_images],
        }
        if with_predictions:
            result["predictions"] = self.predictions
        return result


def score_vqa(
    records: Sequence[VQAExample],
    predictions: Sequence[str | None],
    failed_images: Sequence[tuple[str, str]] = (),
) -> VQAReport:
    """Official VQA accuracy of ``predictions[i]`` for ``records[i]``; ``None`` predictions
    (questions about images that could not be decoded) are left out of every mean."""
    if len(records) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(records)} questions")
    rows: list[dict[str, Any]] = []
    for record, prediction in zip(records, predictions, strict=True):
        if prediction is None:
            continue
        rows.append(
            {
                "id": record.id,
                "question": record.question,
                "answer": record.answer_counts.most_common(1)[0][0],
                "prediction": prediction,
                "accuracy": vqa_accuracy(prediction, record.answers),
                "question_type": record.question_type or UNTYPED,
                "language": record.language,
            }
        )
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in rows:
        for key in (("type", row["question_type"]), ("language", row["language"])):
            groups[key].append(row["accuracy"])
        groups[("pair", f"{row['question_type']}\t{row['language']}")].append(row["accuracy"])
    by_type_language: dict[str, dict[str, float]] = defaultdict(dict)
    for (kind, key), values in sorted(groups.items()):
        if kind == "pair":
            question_type, language = key.split("\t")
            by_type_language[question_type][language] = _mean(values)
    return VQAReport(
        accuracy=_mean([row["accuracy"] for row in rows]),
        questions=len(rows),
        by_type={k: _mean(v) for (kind, k), v in sorted(groups.items()) if kind == "type"},
        by_language={k: _mean(v) for (kind, k), v in sorted(groups.items()) if kind == "language"},
        by_type_language=dict(by_type_language),
        predictions=rows,
        failed_images=list(failed_images),
    )


@torch.no_grad()
def answer_questions(
    model: VisionLanguageModel,
    records: Sequence[VQAExample],
    *,
    image_of: Mapping[str, ImageSource] | None = None,
    batch_size: int = 64,
    max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
    threads: int = 2,
    show_progress: bool = False,
) -> tuple[list[str | None], list[tuple[str, str]]]:
    """The model's answer to every record (``None`` where its image could not be decoded) and
    the ``(image, reason)`` failures. ``image_of`` maps ``str(record.image)`` to the image for
    records whose images are not files (a world generated in memory)."""
    keys: dict[str, int] = {}
    sources: list[ImageSource] = []
    for record in records:
        key = str(record.image)
        if key not in keys:
            keys[key] = len(sources)
            sources.append(image_of[key] if image_of is not None else record.image)
    encoded = tower_features(
        model.vision,
        sources,
        batch_size=batch_size,
        threads=threads,
        show_progress=show_progress,
        description="encoding images",
    )
    row_of = {source_index: row for row, source_index in enumerate(encoded.kept)}
    answerable = [i for i, r in enumerate(records) if keys[str(r.image)] in row_of]
    predictions: list[str | None] = [None] * len(records)
    with progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("answering questions", total=len(answerable))
        for start in range(0, len(answerable), batch_size):
            chosen = answerable[start : start + batch_size]
            rows = [row_of[keys[str(records[i].image)]] for i in chosen]
            answers = model.generate(
                [model.question_prompt(records[i].question) for i in chosen],
                features=encoded.features[rows],
                max_new_tokens=max_new_tokens,
                batch_size=batch_size,
            )
            for i, answer in zip(chosen, answers, strict=True):
                predictions[i] = answer
            bar.advance(task, len(chosen))
    return predictions, encoded.failures


def evaluate_vqa(
    model: VisionLanguageModel,
    records: Sequence[VQAExample],
    *,
    image_of: Mapping[str, ImageSource] | None = None,
    batch_size: int = 64,
    max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
    threads: int = 2,
    show_progress: bool = False,
) -> VQAReport:
    """Answer every question with ``model`` and score the answers (see the module docstring)."""
    predictions, failures = answer_questions(
        model,
        records,
        image_of=image_of,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        threads=threads,
        show_progress=show_progress,
    )
    return score_vqa(records, predictions, failures)


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else float("nan")


__all__ = ["UNTYPED", "VQAReport", "answer_questions", "evaluate_vqa", "score_vqa"]
