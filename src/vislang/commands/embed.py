"""``vislang embed``: images or captions → a feature store of normalised embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.errors import ConfigError


def embed_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Preset (e.g. clip-base), vislang model folder or HF CLIP/SigLIP folder.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder of the feature store to write.")],
    images: Annotated[
        Path | None, typer.Option("--images", help="Folder of image files (searched recursively).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="Dataset as FORMAT:PATH (see `vislang data formats`)."),
    ] = None,
    texts: Annotated[
        bool,
        typer.Option("--texts", help="Embed the dataset's captions instead of its images."),
    ] = False,
    split: Annotated[
        str | None, typer.Option("--split", help="Only this split of the dataset.")
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", help="Only records in this language (repeatable)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Inputs per forward pass.")
    ] = 32,
    threads: Annotated[
        int,
        typer.Option(
            "--threads", min=1, help="Image decoding threads, run beside the forward pass."
        ),
    ] = 2,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="float32 (exact); bfloat16 matrix products (about twice as fast on a CPU "
            "with native bfloat16, embeddings within cosine 0.9999); or auto: bfloat16 where "
            "the CPU computes it natively, float32 elsewhere.",
        ),
    ] = "float32",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing feature store at --out.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON object.")
    ] = False,
) -> None:
    """Embed images or captions with an encoder into a feature store (shards, metadata, manifest).

    Unreadable images and empty captions are skipped and listed in the store's report.json.
    """
    if (images is None) == (data is None):
        raise typer.BadParameter("give exactly one of --images DIR or --data FORMAT:PATH")
    if texts and data is None:
        raise typer.BadParameter("--texts embeds a dataset's captions: use it with --data")

    from vislang.models.registry import load_model
    from vislang.represent import embed_job

    modality = "text" if texts else "image"
    earlier_failures: list[tuple[str, str]] = []
    if images is not None:
        rows = embed_job.image_folder_inputs(images)
    else:
        from vislang.data.readers import read_dataset

        dataset = read_dataset(data, split=split, languages=language, on_bad_item="skip")
        rows = (embed_job.dataset_text_inputs if texts else embed_job.dataset_image_inputs)(dataset)
        earlier_failures = [
            (f"{s.source}:{s.line}" if s.line else s.source, s.reason) for s in dataset.skipped
        ]
    if not rows:
        raise ConfigError(f"nothing to embed in {images or data}")

    encoder = load_model(model)
    encoder.eval()
    report = embed_job.run_embed_job(
        encoder,
        rows,
        out,
        modality=modality,
        model=model_reference(model),
        batch_size=batch_size,
        threads=threads,
        overwrite=overwrite,
        earlier_failures=earlier_failures,
        show_progress=not as_json,
        precision=precision,
    )
    result = report.to_dict()
    console.emit(result, as_json, render=lambda: _render(result))


def model_reference(model: str) -> str:
    """How a feature store names its model: a folder as an absolute path (so the store can be
    used from anywhere), anything else (a preset, a hub id) as given."""
    path = Path(model)
    return str(path.resolve()) if path.is_dir() else model


def _render(result: dict[str, Any]) -> None:
    summary = {k: v for k, v in result.items() if k not in ("failures", "encoder")}
    summary["encoder"] = result["encoder"].get("name")
    console.stdout.print(console.key_value_table(summary, title="embedding job"))
    if result["failures"]:
        shown = result["failures"][:20]
        title = f"skipped inputs ({len(result['failures'])}, all listed in report.json)"
        console.stdout.print(console.rows_table(shown, title=title))
