"""``vislang caption IMAGE... --model DIR``: caption images, showing the retrieved captions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.options import JsonFlag

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="A trained captioner folder (SmallCap/PAELLA), or a causal language model "
        "(vislang or Hugging Face folder, hub id) for training-free LMCap.",
    ),
]
LanguageOption = Annotated[
    list[str] | None,
    typer.Option("--lang", help="Caption language(s) (comma-separated or repeated; default: en)."),
]
DatastoreOption = Annotated[
    Path | None,
    typer.Option(
        "--datastore",
        help="Caption datastore to retrieve from (default: the captioner's own; required for "
        "LMCap).",
    ),
]
KOption = Annotated[
    int | None,
    typer.Option("--k", min=0, help="Retrieved captions per prompt (default: the model's)."),
]
EncoderOption = Annotated[
    str | None,
    typer.Option(
        "--encoder", help="LMCap: the datastore's dual encoder (default: the one it names)."
    ),
]
ShotsOption = Annotated[
    int, typer.Option("--shots", min=0, help="LMCap: demonstrations before the query.")
]
PromptsOption = Annotated[
    str,
    typer.Option("--prompts", help="LMCap: prompt template set (e.g. lmcap, world-lmcap)."),
]
RerankFlag = Annotated[
    bool, typer.Option("--rerank", help="LMCap: pick the beam the dual encoder scores highest.")
]


def caption_command(
    images: Annotated[list[Path], typer.Argument(help="Image files to caption.")],
    model: ModelOption,
    lang: LanguageOption = None,
    datastore: DatastoreOption = None,
    k: KOption = None,
    encoder: EncoderOption = None,
    shots: ShotsOption = 3,
    prompts: PromptsOption = "lmcap",
    rerank: RerankFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Caption images with a retrieval-augmented captioner, beside the captions it retrieved."""
    from vislang.data.batch import load_batch
    from vislang.models.captioners import load_captioner
    from vislang.models.lmcap import LMCapConfig

    languages = split_commas(lang) or ["en"]
    loaded = load_captioner(
        model,
        languages=languages,
        datastore=datastore,
        encoder=encoder,
        k=k,
        lmcap=LMCapConfig(prompt_set=prompts, shots=shots, rerank=rerank),
    )
    batch = load_batch(images, loaded.captioner.encoder.preprocess)
    good = [images[i] for i in batch.indices]
    pixels = batch.pixels.repeat_interleave(len(languages), dim=0)
    wanted = [code for _ in good for code in languages]
    results = (
        loaded.captioner.caption(pixels, wanted, loaded.retriever, None, **loaded.caption_options)
        if good
        else []
    )
    rows = [
        {"image": str(path), **result.to_dict()}
        for path, result in zip([path for path in good for _ in languages], results, strict=True)
    ]
    for row in rows:
        row.pop("image_id")
    output = {
        "model": model,
        **loaded.describe(),
        "captions": rows,
        "failed_images": [{"source": s, "reason": r} for s, r in batch.failures],
    }
    console.emit(output, as_json, lambda: _render(output))
    if not good:
        raise typer.Exit(1)


def _render(output: dict[str, Any]) -> None:
    for row in output["captions"]:
        console.stdout.print(
            f"{row['image']} ({row['language']})", style="bold", highlight=False, markup=False
        )
        console.stdout.print(f"  caption: {row['caption']}", highlight=False, markup=False)
        retrieved = row["retrieved"]
        for found in retrieved["captions"] if retrieved else []:
            console.stdout.print(
                f"  retrieved {found['score']:.3f}: {found['text']}", highlight=False, markup=False
            )
    for failure in output["failed_images"]:
        console.stdout.print(
            f"skipped {failure['source']}: {failure['reason']}", highlight=False, markup=False
        )


def split_commas(values: list[str] | None) -> list[str]:
    """Option values split at commas: ``['en,de', 'sw']`` → ``['en', 'de', 'sw']``."""
    if not values:
        return []
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
