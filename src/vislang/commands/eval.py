"""``vislang eval``: evaluate a model on any reader's data.

Each subcommand reads the data, loads the model and hands both to one function of
:mod:`vislang.evaluate`; this module only parses options and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.eval_captioning import captioning_command
from vislang.commands.eval_vqa import vqa_command
from vislang.commands.options import DataOption, JsonFlag, LanguagesOption, SplitOption
from vislang.errors import ConfigError

app = typer.Typer(
    name="eval",
    help="Evaluate models on a dataset: retrieval recall, zero-shot classification, VQA.",
    no_args_is_help=True,
)

ModelOption = Annotated[
    str,
    typer.Option(
        "--model", help="Preset, vislang model folder, or Hugging Face CLIP/SigLIP folder or id."
    ),
]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, help="Image decoding threads.")]


@app.command("retrieval")
def retrieval(
    model: ModelOption,
    data: DataOption,
    split: SplitOption = None,
    languages: LanguagesOption = None,
    max_images: Annotated[
        int | None,
        typer.Option("--max-images", min=1, help="Only the first N images (in data order)."),
    ] = None,
    batch_size: BatchOption = 64,
    threads: ThreadsOption = 2,
    as_json: JsonFlag = False,
) -> None:
    """Image-text retrieval: recall@1/5/10 in both directions, per language (strict: the
    query's own image or captions)."""
    from vislang.evaluate.retrieval import evaluate_retrieval

    dataset, encoder = _data_and_model(data, model, split, languages)
    report = evaluate_retrieval(
        encoder,
        dataset["records"],
        max_images=max_images,
        batch_size=batch_size,
        threads=threads,
        show_progress=not as_json,
    )
    result = {**dataset["info"], "model": model, **report.to_dict()}

    def render() -> None:
        rows = [
            {"language": code, **_recall_row(scores)} for code, scores in report.languages.items()
        ]
        if len(rows) > 1:
            rows.append({"language": "mean", **_recall_row(report.mean())})
        title = f"retrieval on {data}" + (f" ({split})" if split else "")
        console.stdout.print(console.rows_table(rows, title=title))
        bounds = [{"language": code, **_recall_row(b)} for code, b in report.bounds.items()]
        console.stdout.print(
            console.rows_table(bounds, title="the best any model can expect (identical captions)")
        )
        _print_left_out(result)

    console.emit(result, as_json, render)


@app.command("zeroshot")
def zeroshot(
    model: ModelOption,
    data: DataOption,
    split: SplitOption = None,
    languages: LanguagesOption = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            help="Classification task(s) of the data (world: shape, colour, compound; "
            "coco: object). Default: all.",
        ),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="JSON file of prompt templates (default: shipped set)."),
    ] = None,
    batch_size: BatchOption = 64,
    threads: ThreadsOption = 2,
    as_json: JsonFlag = False,
) -> None:
    """Zero-shot classification by prompt templates (class embeddings averaged over templates,
    argmax cosine), per language."""
    from vislang.evaluate.zeroshot import evaluate_zeroshot, load_templates
    from vislang.evaluate.zeroshot_sets import classification_sets

    dataset, encoder = _data_and_model(data, model, split, languages)
    template_sets = load_templates(templates)
    reports = []
    for classes in classification_sets(dataset["dataset"], _split_commas(task)):
        if classes.templates not in template_sets:
            raise ConfigError(
                f"{templates or 'the shipped templates'} has no template set {classes.templates!r}"
                f" (sets: {', '.join(sorted(template_sets))})"
            )
        reports.append(
            evaluate_zeroshot(
                encoder,
                classes,
                template_sets[classes.templates],
                languages=_split_commas(languages),
                batch_size=batch_size,
                threads=threads,
                show_progress=not as_json,
            )
        )
    result = {**dataset["info"], "model": model, "tasks": [r.to_dict() for r in reports]}

    def render() -> None:
        rows = [
            {
                "task": r.task,
                "language": code,
                "accuracy": scores["accuracy"],
                "images": r.images,
                "classes": r.classes,
                "majority class": r.majority_baseline,
            }
            for r in reports
            for code, scores in r.languages.items()
        ]
        title = f"zero-shot classification on {data}" + (f" ({split})" if split else "")
        console.stdout.print(console.rows_table(rows, title=title))
        for r in reports:
            console.stdout.print(f"{r.task}: {r.description}")
        _print_left_out(result)

    console.emit(result, as_json, render)


app.command("vqa")(vqa_command)
app.command("captioning")(captioning_command)


def _data_and_model(
    data: str, model: str, split: str | None, languages: list[str] | None
) -> tuple[dict[str, Any], Any]:
    """The caption records of ``data`` (bad items and missing images left out and counted) and
    the encoder ``model``."""
    from vislang.data.readers import read_dataset
    from vislang.data.schema import CaptionExample
    from vislang.models.registry import load_model
    from vislang.represent.encoder import ImageTextEncoder

    dataset = read_dataset(
        data,
        kinds=(CaptionExample,),
        split=split,
        languages=_split_commas(languages),
        on_missing_image="skip",
        on_bad_item="skip",
    )
    records = dataset.of_kind(CaptionExample)
    if not records:
        where = f" in split {split!r}" if split else ""
        raise ConfigError(f"{data}: no caption records{where}")
    encoder = load_model(model)
    if not isinstance(encoder, ImageTextEncoder):
        raise ConfigError(f"{model}: not an image-text encoder (a dual encoder such as clip-tiny)")
    info = {
        "data": data,
        "split": split,
        "skipped_items": len(dataset.skipped),
        "missing_images": len(dataset.missing_images),
    }
    return {"records": records, "dataset": dataset, "info": info}, encoder


def _split_commas(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _recall_row(scores: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for direction, short in (("text_to_image", "T→I"), ("image_to_text", "I→T")):
        for k in (1, 5, 10):
            row[f"{short} R@{k}"] = scores[f"{direction}@{k}"]
    for key in ("images", "texts"):
        if key in scores:
            row[key] = int(scores[key])
    return row


def _print_left_out(result: dict[str, Any]) -> None:
    notes = [
        f"{result[key]} {label}"
        for key, label in (
            ("skipped_items", "malformed items skipped"),
            ("missing_images", "records with missing images skipped"),
        )
        if result.get(key)
    ]
    failed = len(result.get("failed_images", [])) + sum(
        len(t.get("failed_images", [])) for t in result.get("tasks", [])
    )
    if failed:
        notes.append(f"{failed} images could not be decoded (listed with --json)")
    if notes:
        console.stdout.print("left out: " + "; ".join(notes))
