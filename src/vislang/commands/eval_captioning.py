"""``vislang eval captioning``: CIDEr-D, BLEU and ROUGE-L of a captioner per language.

The captioner (a trained SmallCap/PAELLA folder, or a causal LM for training-free LMCap) captions
every image of the data in every language asked for; each language's captions are scored against
that language's references (:mod:`vislang.evaluate.captioning`). On the synthetic world, the
share of English captions true of their scene is reported too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.caption import (
    DatastoreOption,
    EncoderOption,
    KOption,
    ModelOption,
    PromptsOption,
    RerankFlag,
    ShotsOption,
    split_commas,
)
from vislang.errors import ConfigError
from vislang.fileio import atomic_write_jsonl


def captioning_command(
    model: ModelOption,
    data: Annotated[
        str, typer.Option("--data", help="Dataset as FORMAT:PATH (see `vislang data formats`).")
    ],
    split: Annotated[str | None, typer.Option("--split", help="Only this split.")] = None,
    languages: Annotated[
        list[str] | None,
        typer.Option(
            "--lang", help="Languages to caption in (comma-separated or repeated; default: all)."
        ),
    ] = None,
    datastore: DatastoreOption = None,
    k: KOption = None,
    encoder: EncoderOption = None,
    shots: ShotsOption = 3,
    prompts: PromptsOption = "lmcap",
    rerank: RerankFlag = False,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=1, help="Only the first N images.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Captions generated per batch.")
    ] = 32,
    captions_out: Annotated[
        Path | None,
        typer.Option(
            "--captions-out",
            help="Write every caption with its prompt and retrieved captions (JSON lines).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Caption a dataset in each language and score the captions (CIDEr-D, BLEU, ROUGE-L)."""
    from vislang.evaluate.captioning import evaluate_captioner
    from vislang.models.caption_data import read_captioned
    from vislang.models.captioners import load_captioner
    from vislang.models.lmcap import LMCapConfig

    images, left_out = read_captioned(data, split, split_commas(languages) or None)
    images = images[:max_images] if max_images else images
    if not images:
        raise ConfigError(
            f"{data}: no images with captions" + (f" in split {split!r}" if split else "")
        )
    wanted = split_commas(languages) or sorted({code for item in images for code in item.captions})
    loaded = load_captioner(
        model,
        languages=wanted,
        datastore=datastore,
        encoder=encoder,
        k=k,
        lmcap=LMCapConfig(prompt_set=prompts, shots=shots, rerank=rerank),
    )
    report = evaluate_captioner(
        loaded.captioner,
        images,
        wanted,
        retriever=loaded.retriever,
        batch_size=batch_size,
        caption_options=loaded.caption_options,
        show_progress=not as_json,
    )
    if captions_out is not None:
        atomic_write_jsonl(captions_out, [result.to_dict() for result in report.results])
    result = {
        "data": data,
        "split": split,
        "model": model,
        **loaded.describe(),
        **left_out,
        **report.to_dict(with_results=False),
    }
    console.emit(result, as_json, lambda: _render(result))


def _render(result: dict[str, Any]) -> None:
    rows = [
        {"language": code, **{name: scores[name] for name in ("CIDEr-D", "BLEU-4", "ROUGE-L")},
         "images": int(scores["images"])}
        for code, scores in result["languages"].items()
    ]  # fmt: skip
    for label, key in (("mean", "mean"), ("mean (MaRVL languages)", "mean_marvl")):
        if result[key] and len(rows) > 1:
            rows.append(
                {"language": label, **{n: result[key][n] for n in ("CIDEr-D", "BLEU-4", "ROUGE-L")}}
            )
    console.stdout.print(console.rows_table(rows, title=f"captioning on {result['data']}"))
    truth = result["english_truth"]
    if truth:
        console.stdout.print(
            f"English captions true of their scene: {truth['share_true']:.1%} "
            f"(read as world captions: {truth['share_parsed']:.1%}; "
            f"{int(truth['checked'])} checked)"
        )
    notes = [
        f"{result[key]} {key.replace('_', ' ')}"
        for key in ("skipped_items", "missing_images")
        if result[key]
    ]
    if result["failed_images"]:
        notes.append(f"{len(result['failed_images'])} images could not be decoded")
    if notes:
        console.stdout.print("left out: " + "; ".join(notes))
