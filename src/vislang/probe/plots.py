"""Pictures of probe results, drawn with matplotlib and written atomically as PNG.

Figures are made directly (:class:`matplotlib.figure.Figure`, not ``pyplot``): they render with
the Agg backend and leave matplotlib's global state alone.

- :func:`phenomenon_bars`: acc_r per phenomenon, one bar per model, with the chance line;
- :func:`category_radar`: acc_r over the object / attribute / relation categories, one polygon
  per model, with the chance circle (VL-CheckList's picture);
- :func:`winoground_bars`: text, image and group scores per model, with each score's chance.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from vislang.fileio import atomic_write_bytes

Scores = Mapping[str, Mapping[str, float]]
"""Model label → name (phenomenon, category or score) → value."""


def phenomenon_bars(
    scores: Scores, chance: float, out: Path, title: str = "foils: acc_r per phenomenon"
) -> Path:
    """Grouped bars: one group per phenomenon, one bar per model, a dashed chance line."""
    names = _names(scores)
    figure = Figure(figsize=(max(6.0, 1.1 * len(names) * max(1, len(scores)) / 2 + 2), 4.0))
    axis = figure.subplots()
    width = 0.8 / max(1, len(scores))
    for offset, (label, values) in enumerate(scores.items()):
        places = [i + (offset - (len(scores) - 1) / 2) * width for i in range(len(names))]
        axis.bar(places, [values.get(n, math.nan) for n in names], width, label=label)
    axis.axhline(chance, color="black", linestyle="--", linewidth=1, label=f"chance ({chance:g})")
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=30, ha="right")
    axis.set_ylim(0, 1)
    axis.set_ylabel("acc_r")
    axis.set_title(title)
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axis.grid(axis="y", alpha=0.3)
    return _save(figure, out)


def category_radar(
    scores: Scores,
    categories: Sequence[str],
    chance: float,
    out: Path,
    title: str = "foils: acc_r by category",
) -> Path:
    """A radar chart over ``categories`` (at least three axes), one closed polygon per model
    and the chance circle."""
    if len(categories) < 3:
        raise ValueError(f"a radar chart needs at least 3 categories, got {len(categories)}")
    angles = [2 * math.pi * i / len(categories) for i in range(len(categories))]
    closed = [*angles, angles[0]]
    figure = Figure(figsize=(5.0, 5.0))
    axis = figure.add_subplot(projection="polar")
    for label, values in scores.items():
        radii = [values.get(c, math.nan) for c in categories]
        axis.plot(closed, [*radii, radii[0]], marker="o", label=label)
        axis.fill(closed, [*radii, radii[0]], alpha=0.1)
    axis.plot(closed, [chance] * len(closed), color="black", linestyle="--", label="chance")
    axis.set_xticks(angles)
    axis.set_xticklabels(list(categories))
    axis.set_ylim(0, 1)
    axis.set_title(title)
    axis.legend(fontsize="small", loc="upper right", bbox_to_anchor=(1.3, 1.1))
    return _save(figure, out)


def winoground_bars(
    scores: Scores, chance: Mapping[str, float], out: Path, title: str = "Winoground"
) -> Path:
    """Grouped bars: text, image and group score per model, a short chance mark for each."""
    names = list(chance)
    figure = Figure(figsize=(6.0, 4.0))
    axis = figure.subplots()
    width = 0.8 / max(1, len(scores))
    for offset, (label, values) in enumerate(scores.items()):
        places = [i + (offset - (len(scores) - 1) / 2) * width for i in range(len(names))]
        axis.bar(places, [values.get(n, math.nan) for n in names], width, label=label)
    for i, name in enumerate(names):
        axis.hlines(chance[name], i - 0.45, i + 0.45, colors="black", linestyles="--")
    axis.plot([], [], color="black", linestyle="--", label="chance")
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names)
    axis.set_ylim(0, 1)
    axis.set_ylabel("share of examples")
    axis.set_title(title)
    axis.legend(fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    return _save(figure, out)


def _names(scores: Scores) -> list[str]:
    names: list[str] = []
    for values in scores.values():
        names.extend(name for name in values if name not in names)
    return names


def _save(figure: Figure, out: Path) -> Path:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(out, buffer.getvalue())
    return out


__all__ = ["category_radar", "phenomenon_bars", "winoground_bars"]
