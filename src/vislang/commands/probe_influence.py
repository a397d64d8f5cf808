"""``vislang probe influence``: how much a visual-prefix VLM's text depends on the image.

Two probes on a world's answers and captions (:mod:`vislang.probe.influence`): the attention
mass from the positions that predict the text to image vs text tokens, per layer and head; and
the text's log-likelihood with the image intact, with its objects masked and with no image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console


def influence_command(
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Visual-prefix VLM folder, LLaVA folder or hub id, or preset."
        ),
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="Dataset as FORMAT:PATH whose images have structured scenes beside them "
            "(a generated world: world:PATH).",
        ),
    ],
    split: Annotated[str, typer.Option("--split", help="Split to draw examples from.")] = "test",
    n: Annotated[
        int, typer.Option("--n", min=0, help="Examples to draw (0: all of the split).")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the example draw.")] = 0,
    languages: Annotated[
        list[str] | None,
        typer.Option("--languages", help="Only these languages (comma-separated or repeated)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Examples per forward pass.")
    ] = 16,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write influence.json (with every example) and attention_by_layer.png here.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Modality influence: attention mass on image vs text tokens per layer, and the text's
    log-likelihood with the image intact, its objects masked, and no image."""
    from vislang.fileio import atomic_write_json
    from vislang.models.registry import load_model
    from vislang.probe.attention_mass import require_joint_attention
    from vislang.probe.influence import (
        influence_examples,
        measure_influence,
        plot_attention_by_layer,
    )

    vlm = require_joint_attention(load_model(model), name=model)
    chosen = [part.strip() for value in languages or [] for part in value.split(",")]
    examples = influence_examples(
        data, split=split, n=n, seed=seed, languages=[code for code in chosen if code] or None
    )
    report = measure_influence(vlm, examples, batch_size=batch_size, show_progress=not as_json)
    result: dict[str, Any] = {
        "model": model,
        "data": data,
        "split": split,
        "seed": seed,
        **report.to_dict(per_example=False),
    }
    if out is not None:
        json_file = out / "influence.json"
        plot_file = plot_attention_by_layer(report, out / "attention_by_layer.png")
        result["files"] = {"json": str(json_file), "plot": str(plot_file)}
        atomic_write_json(json_file, {**result, **report.to_dict(per_example=True)})
    console.emit(result, as_json, render=lambda: _render(result))


def _render(result: dict[str, Any]) -> None:
    """The per-layer attention table, the ablation table and what was left out."""
    layers = [
        {
            "layer": row["layer"],
            "image": f"{row['image']:.3f}",
            "text": f"{row['text']:.3f}",
            "uniform image": f"{row['uniform_image']:.3f}",
        }
        for row in result["attention"]["per_layer"]
    ]
    title = f"Attention mass from the text ({result['examples']} examples, {result['split']})"
    console.stdout.print(console.rows_table(layers, title=title))
    ablation = [
        {
            "condition": name.replace("_", " "),
            "log-likelihood": f"{means['total']:.3f}",
            "per token": f"{means['per_token']:.3f}",
        }
        for name, means in result["ablation"]["mean"].items()
    ]
    console.stdout.print(
        console.rows_table(ablation, title="Mean log-likelihood of the reference text (nats)")
    )
    by_type = [
        {
            "question type": name,
            "examples": entry["examples"],
            **{
                label: f"{entry['mean'][condition]['total']:.3f}"
                for condition, label in (
                    ("intact", "intact"),
                    ("masked", "masked"),
                    ("no_image", "no image"),
                )
            },
        }
        for name, entry in result["ablation"]["by_question_type"].items()
    ]
    if by_type:
        console.stdout.print(
            console.rows_table(by_type, title="Answers' mean log-likelihood by question type")
        )
    wins = result["ablation"]["wins"]
    console.stdout.print(
        f"intact image likelier than masked objects for {100 * wins['intact_over_masked']:.1f}% "
        f"of texts, than no image for {100 * wins['intact_over_no_image']:.1f}%"
    )
    if result["skipped"]:
        first = result["skipped"][0]
        console.stdout.print(
            f"left out: {len(result['skipped'])} examples (first: {first['image']}: "
            f"{first['reason']})"
        )
    if "files" in result:
        console.stdout.print(f"wrote {result['files']['json']} and {result['files']['plot']}")
