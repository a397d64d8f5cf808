"""``vislang probe attributes``: which attributes of concepts can a linear probe read from a
model's concept embeddings (see :mod:`vislang.probe.attributes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.errors import ConfigError
from vislang.probe.attributes import MIN_POSITIVES, AttributeProbeResult, ProbeSettings
from vislang.probe.concept_embeddings import CONCEPT_SOURCES, short_names


def attributes(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            help="Model to probe (repeat to compare): a vislang dual-encoder folder or preset, "
            "'minilm' (the packaged all-MiniLM-L6-v2 sentence encoder), or 'random:<model>' "
            "for the same architecture with random weights.",
        ),
    ],
    norms: Annotated[
        str,
        typer.Option("--norms", help="Attribute norms as FORMAT:PATH (mcrae:, things:, world:)."),
    ],
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="Reader option key=value (repeatable), e.g. THINGS images=DIR."
        ),
    ] = None,
    concept_source: Annotated[
        str,
        typer.Option(
            "--concept-source",
            help="Embed each concept from its word (text) or the mean of its images (images).",
        ),
    ] = "text",
    language: Annotated[
        str | None,
        typer.Option("--language", help="Language of the norms (worlds hold several; default en)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for attributes.json, score tables and the correlation heatmap."
        ),
    ] = None,
    min_positives: Annotated[
        int,
        typer.Option("--min-positives", min=1, help="Probe attributes with at least N concepts."),
    ] = MIN_POSITIVES,
    max_images: Annotated[
        int | None,
        typer.Option("--max-images", min=1, help="Mean over at most N images per concept."),
    ] = None,
    crop_to_object: Annotated[
        bool,
        typer.Option(
            "--crop-to-object",
            help="Crop each concept image to the concept's box (worlds record the boxes).",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the folds and of random-init controls.")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Attribute probes: F1-selectivity of a logistic regression per attribute (5-fold x 2),
    per knowledge type, and the correlation of models' per-attribute scores."""
    from vislang.probe.attribute_job import read_norms, run_attribute_job, write_attribute_outputs

    if concept_source not in CONCEPT_SOURCES:
        raise ConfigError(f"--concept-source must be text or images, not {concept_source!r}")
    table = read_norms(norms, language, option or [])
    settings = ProbeSettings(min_positives=min_positives, seed=seed)
    result = run_attribute_job(
        model,
        table,
        concept_source,  # type: ignore[arg-type]
        settings,
        max_images=max_images,
        crop_to_object=crop_to_object,
    )
    summary = result.to_dict()
    if out is not None:
        summary["files"] = write_attribute_outputs(result, out)

    def render() -> None:
        console.stdout.print(
            console.rows_table(
                knowledge_type_rows(result),
                title=f"mean F1-selectivity per knowledge type ({result.norms}, {concept_source})",
            )
        )
        if len(result.models) > 1:
            console.stdout.print(
                console.rows_table(
                    correlation_rows(result),
                    title=f"Pearson r of per-attribute scores "
                    f"({len(result.correlation_attributes)} attributes)",
                )
            )
        for model_result in result.models:
            if model_result.skipped_concepts or model_result.bad_images:
                console.log(
                    f"{model_result.model}: {len(model_result.skipped_concepts)} concepts without "
                    f"a readable image left out, {len(model_result.bad_images)} unreadable images"
                )
        if out is not None:
            console.log(f"wrote {out}")

    console.emit(summary, as_json, render)


def knowledge_type_rows(result: AttributeProbeResult) -> list[dict[str, Any]]:
    """One row per knowledge type: attribute count and each model's mean F1-selectivity."""
    from vislang.probe.attributes import by_knowledge_type

    names = short_names([m.model for m in result.models])
    tables = {
        names[m.model]: {r["knowledge_type"]: r for r in by_knowledge_type(m.scores)}
        for m in result.models
    }
    first = names[result.models[0].model]
    kinds = [r["knowledge_type"] for r in by_knowledge_type(result.models[0].scores)]
    kinds += sorted({k for t in tables.values() for k in t} - set(kinds))
    rows = []
    for kind in kinds:
        row: dict[str, Any] = {"knowledge type": kind}
        row["attributes"] = tables[first][kind]["attributes"] if kind in tables[first] else 0
        for name, table in tables.items():
            row[name] = f"{table[kind]['selectivity']:.1f}" if kind in table else "-"
        rows.append(row)
    total: dict[str, Any] = {"knowledge type": "all", "attributes": len(result.models[0].scores)}
    for model_result in result.models:
        total[names[model_result.model]] = f"{model_result.mean_selectivity:.1f}"
    return [*rows, total]


def correlation_rows(result: AttributeProbeResult) -> list[dict[str, str]]:
    """The correlation matrix as table rows."""
    short = short_names(result.correlation_models)
    names = [short[m] for m in result.correlation_models]
    return [
        {
            "model": name,
            **{other: f"{result.correlations[i, j]:.2f}" for j, other in enumerate(names)},
        }
        for i, name in enumerate(names)
    ]
