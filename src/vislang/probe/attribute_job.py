"""One attribute-probe run: read the norms, embed the concepts with each model, probe, write.

The output folder holds ``attributes.json`` (everything :meth:`AttributeProbeResult.to_dict`
gives), ``attribute_scores.tsv`` (one row per model and attribute), ``knowledge_types.tsv`` (one
row per model and knowledge type), ``attribute_correlations.png`` (heatmap of the Pearson
correlations between models) and ``knowledge_types.png`` (mean F1-selectivity per type).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vislang.console import log
from vislang.data.readers.registry import parse_options, parse_spec, read_dataset
from vislang.data.schema import AttributeNorms
from vislang.errors import ConfigError
from vislang.fileio import atomic_write_json, atomic_write_text
from vislang.probe.attribute_plots import correlation_heatmap, knowledge_type_bars
from vislang.probe.attributes import (
    DEFAULT_SETTINGS,
    AttributeProbeResult,
    ProbeSettings,
    by_knowledge_type,
    run_attribute_probes,
)
from vislang.probe.concept_embeddings import (
    ConceptSource,
    concept_embeddings,
    load_concept_encoder,
)


def read_norms(
    spec: str, language: str | None = None, options: Sequence[str] = ()
) -> AttributeNorms:
    """The attribute table of dataset ``spec`` (``FORMAT:PATH``) in ``language``; ``options``
    are the reader's ``key=value`` options (THINGS: ``images=DIR``).

    A dataset with tables in several languages (a world) needs ``language``, or holds English.
    """
    reader, _ = parse_spec(spec)
    dataset = read_dataset(spec, kinds=(AttributeNorms,), **parse_options(reader, options))
    tables = dataset.of_kind(AttributeNorms)
    if not tables:
        raise ConfigError(f"{spec}: no attribute norms in this dataset")
    if language is not None:
        tables = [t for t in tables if t.language == language]
        if not tables:
            raise ConfigError(f"{spec}: no attribute norms in language {language!r}")
    elif len(tables) > 1:
        english = [t for t in tables if t.language == "en"]
        if not english:
            languages = ", ".join(sorted(t.language for t in tables))
            raise ConfigError(f"{spec}: attribute norms in {languages}; choose one with --language")
        tables = english
    if len(tables) > 1:
        raise ConfigError(f"{spec}: {len(tables)} attribute tables in one language")
    return tables[0]


def run_attribute_job(
    models: Sequence[str],
    norms: AttributeNorms,
    source: ConceptSource = "text",
    settings: ProbeSettings = DEFAULT_SETTINGS,
    *,
    max_images: int | None = None,
    crop_to_object: bool = False,
) -> AttributeProbeResult:
    """Embed the concepts of ``norms`` with each model spec (see
    :func:`~vislang.probe.concept_embeddings.load_concept_encoder`; random-init controls use
    ``settings.seed``) and probe them; ``max_images`` and ``crop_to_object`` as in
    :func:`~vislang.probe.concept_embeddings.concept_embeddings`."""
    tables = []
    for spec in models:
        log(f"embedding {len(norms.concepts)} concepts with {spec} ({source})")
        encoder = load_concept_encoder(spec, seed=settings.seed)
        tables.append(
            concept_embeddings(
                encoder, norms, source, max_images=max_images, crop_to_object=crop_to_object
            )
        )
    return run_attribute_probes(tables, norms, settings)


def write_attribute_outputs(result: AttributeProbeResult, out: str | Path) -> dict[str, str]:
    """Write the result files into ``out`` (see the module docstring); returns name → path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "json": folder / "attributes.json",
        "scores": folder / "attribute_scores.tsv",
        "types": folder / "knowledge_types.tsv",
        "correlations": folder / "attribute_correlations.png",
        "type_plot": folder / "knowledge_types.png",
    }
    atomic_write_json(files["json"], result.to_dict())
    score_rows = ["model\tattribute\tknowledge_type\tpositives\tconcepts\tf1\tf1_std\tselectivity"]
    type_rows = ["model\tknowledge_type\tattributes\tf1\tselectivity"]
    for model in result.models:
        score_rows += [
            f"{model.model}\t{s.attribute}\t{s.knowledge_type}\t{s.positives}\t{s.concepts}\t"
            f"{s.f1:.2f}\t{s.f1_std:.2f}\t{s.selectivity:.2f}"
            for s in model.scores
        ]
        type_rows += [
            f"{model.model}\t{r['knowledge_type']}\t{r['attributes']}\t{r['f1']:.2f}\t"
            f"{r['selectivity']:.2f}"
            for r in by_knowledge_type(model.scores)
        ]
    atomic_write_text(files["scores"], "\n".join(score_rows) + "\n")
    atomic_write_text(files["types"], "\n".join(type_rows) + "\n")
    correlation_heatmap(result, files["correlations"])
    knowledge_type_bars(result, files["type_plot"])
    return {name: str(path) for name, path in files.items()}
