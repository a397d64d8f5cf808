"""``vislang eval vqa``: official VQA accuracy of a vision-language model on any reader's data.

The model answers every question open-ended (greedy decoding after its question prompt); the
answers are scored with the official VQA accuracy and broken down per question type and per
language. Given a causal language model instead, the questions are answered without the image:
the language prior a vision-language model has to beat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.errors import ConfigError


def vqa_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Vision-language model folder, LLaVA folder or hub id, or preset; a causal LM "
            "answers without the image (the language prior).",
        ),
    ],
    data: Annotated[
        str, typer.Option("--data", help="Dataset as FORMAT:PATH (see `vislang data formats`).")
    ],
    split: Annotated[str | None, typer.Option("--split", help="Only this split.")] = None,
    languages: Annotated[
        list[str] | None,
        typer.Option("--languages", help="Only these languages (comma-separated or repeated)."),
    ] = None,
    max_questions: Annotated[
        int | None,
        typer.Option("--max-questions", min=1, help="Only the first N questions (data order)."),
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="Also write every answer to this JSON-lines file."),
    ] = None,
    max_new_tokens: Annotated[
        int | None,
        typer.Option("--max-new-tokens", min=1, help="Longest answer, in tokens (default: 16)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Questions per generation batch.")
    ] = 64,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Image decoding threads.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """VQA: official accuracy per question type and per language (a causal LM answers without
    the image: the language prior)."""
    from vislang.data.readers import read_dataset
    from vislang.data.schema import VQAExample
    from vislang.evaluate.vqa import evaluate_vqa, score_vqa
    from vislang.evaluate.vqa_baselines import language_prior_answers
    from vislang.fileio import atomic_write_jsonl
    from vislang.models.causal_lm import CausalLM
    from vislang.models.registry import load_model
    from vislang.models.vision_language import ANSWER_MAX_NEW_TOKENS, VisionLanguageModel

    chosen = [part.strip() for value in languages or [] for part in value.split(",")]
    dataset = read_dataset(
        data,
        kinds=(VQAExample,),
        split=split,
        languages=[code for code in chosen if code] or None,
        on_missing_image="skip",
        on_bad_item="skip",
    )
    records = dataset.of_kind(VQAExample)[:max_questions]
    if not records:
        raise ConfigError(f"{data}: no VQA records" + (f" in split {split!r}" if split else ""))
    answerer = load_model(model)
    longest = max_new_tokens or ANSWER_MAX_NEW_TOKENS
    if isinstance(answerer, VisionLanguageModel):
        kind = "vision-language model"
        report = evaluate_vqa(
            answerer,
            records,
            batch_size=batch_size,
            max_new_tokens=longest,
            threads=threads,
            show_progress=not as_json,
        )
    elif isinstance(answerer, CausalLM):
        kind = "language prior (no image)"
        answers = language_prior_answers(
            answerer, records, batch_size=batch_size, max_new_tokens=longest
        )
        report = score_vqa(records, answers)
    else:
        raise ConfigError(
            f"{model}: a {type(answerer).__name__}, neither a vision-language model nor a "
            "causal language model"
        )
    if predictions is not None:
        atomic_write_jsonl(predictions, report.predictions)
    result = {
        "data": data,
        "split": split,
        "model": model,
        "answered_by": kind,
        "skipped_items": len(dataset.skipped),
        "missing_images": len(dataset.missing_images),
        **report.to_dict(),
    }
    console.emit(result, as_json, render=lambda: _render(result))


def _render(result: dict[str, Any]) -> None:
    """Accuracy ×100: one row per question type, one column per language, with the means."""
    languages = sorted(result["by_language"])
    rows = [
        {
            "question type": question_type,
            **{code: _percent(scores.get(code)) for code in languages},
            "all": _percent(result["by_type"][question_type]),
        }
        for question_type, scores in result["by_type_language"].items()
    ]
    rows.append(
        {
            "question type": "all",
            **{code: _percent(result["by_language"][code]) for code in languages},
            "all": _percent(result["accuracy"]),
        }
    )
    title = f"VQA accuracy on {result['data']}" + (
        f" ({result['split']})" if result["split"] else ""
    )
    console.stdout.print(console.rows_table(rows, title=title))
    console.stdout.print(
        f"{result['questions']} questions, answered by the {result['answered_by']}"
    )
    notes = [
        f"{result[key]} {label}"
        for key, label in (
            ("skipped_items", "malformed items skipped"),
            ("missing_images", "records with missing images skipped"),
        )
        if result[key]
    ]
    if result["failed_images"]:
        notes.append(f"{len(result['failed_images'])} images could not be decoded (see --json)")
    if notes:
        console.stdout.print("left out: " + "; ".join(notes))


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"
