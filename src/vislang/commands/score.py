"""``vislang score``: evaluate model outputs with the reference metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vislang import console

app = typer.Typer(
    name="score",
    help="Evaluate outputs: caption metrics (BLEU, ROUGE-L, CIDEr-D) in any language.",
    no_args_is_help=True,
)


@app.command("captions")
def captions(
    refs: Annotated[
        Path,
        typer.Option(
            "--refs", help="Reference captions: COCO caption json or {image_id: [captions]}."
        ),
    ],
    preds: Annotated[
        Path,
        typer.Option("--preds", help="Predictions: [{image_id, caption}] (json or jsonl)."),
    ],
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the captions (ISO 639-1): the tokenizer.")
    ] = "en",
    per_image: Annotated[
        Path | None, typer.Option("--per-image", help="Write per-image scores to this JSON file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score predicted captions against references: BLEU-1..4, ROUGE-L, CIDEr-D (COCO toolkit)."""
    from vislang.errors import DataFormatError
    from vislang.fileio import atomic_write_json
    from vislang.metrics.caption_files import read_predictions, read_references
    from vislang.metrics.caption_scores import score_captions

    references = read_references(refs)
    predictions = read_predictions(preds)
    for index, image in enumerate(predictions):
        if image not in references:
            raise DataFormatError(
                preds, f"prediction {index}: image {image} has no references in {refs}"
            )
    missing = [image for image in references if image not in predictions]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise DataFormatError(
            refs,
            f"{len(missing)} image(s) with references have no prediction in {preds}: {shown} "
            "(every referenced image needs one, as CIDEr-D depends on the whole set)",
        )
    scores = score_captions(references, predictions, language=lang)
    result = {"refs": str(refs), "preds": str(preds), **scores.to_dict()}
    if per_image is not None:
        atomic_write_json(
            per_image,
            {
                "language": scores.language,
                "tokenizer": scores.tokenizer,
                "corpus": scores.corpus,
                "images": scores.per_image_rows(),
            },
        )
        result["per_image"] = str(per_image)
    console.emit(result, as_json)
