"""Plots of attribute probes: the models' score correlations and the per-type means."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from vislang.fileio import atomic_write_bytes
from vislang.probe.attributes import AttributeProbeResult, by_knowledge_type
from vislang.probe.concept_embeddings import short_names


def correlation_heatmap(result: AttributeProbeResult, path: str | Path) -> Path:
    """Write a PNG heatmap of the Pearson correlations of the models' per-attribute scores."""
    short = short_names(result.correlation_models)
    models = [short[m] for m in result.correlation_models]
    size = max(3.0, 1.0 + 0.9 * len(models))
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(result.correlations, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    axes.set_xticks(range(len(models)), models, rotation=45, ha="right")
    axes.set_yticks(range(len(models)), models)
    for (i, j), value in np.ndenumerate(result.correlations):
        text = "–" if np.isnan(value) else f"{value:.2f}"
        colour = "white" if abs(value) > 0.6 else "black"
        axes.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    axes.set_title(
        f"Pearson r of per-attribute F1-selectivity\n{result.norms}, "
        f"{len(result.correlation_attributes)} attributes",
        fontsize=9,
    )
    figure.colorbar(image, ax=axes, fraction=0.046)
    return _save(figure, path)


def knowledge_type_bars(result: AttributeProbeResult, path: str | Path) -> Path:
    """Write a PNG of mean F1-selectivity per knowledge type, one bar per model."""
    short = short_names([m.model for m in result.models])
    tables = {
        short[m.model]: {r["knowledge_type"]: r for r in by_knowledge_type(m.scores)}
        for m in result.models
    }
    kinds = sorted({kind for table in tables.values() for kind in table})
    width = 0.8 / max(1, len(tables))
    figure, axes = plt.subplots(figsize=(max(5.0, 1.1 * len(kinds) + 2), 4))
    positions = np.arange(len(kinds))
    for index, (model, table) in enumerate(tables.items()):
        values = [table[k]["selectivity"] if k in table else np.nan for k in kinds]
        axes.bar(positions + index * width, values, width, label=model)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(positions + width * (len(tables) - 1) / 2, kinds, rotation=30, ha="right")
    axes.set_ylabel("mean F1-selectivity")
    axes.set_title(f"Attribute probes by knowledge type ({result.norms})", fontsize=9)
    axes.legend(fontsize=7)
    return _save(figure, path)


def _save(figure: plt.Figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
