"""Several models on the same foils and Winoground examples: one markdown report with tables and
pictures (:mod:`vislang.probe.plots`), and every number in ``results.json``.

::

    results = run_probes([("clip", scorer_for(clip)), ("lm", scorer_for(lm))], foils, groups)
    write_report(results, Path("probe-report"), data="world:w")   # -> probe-report/report.md

A text-only model (a causal LM's ``text_loglik``) sits beside the others as the language-prior
baseline: what can be told from the texts alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vislang.data.schema import FoilExample, WinogroundExample
from vislang.errors import ConfigError
from vislang.fileio import atomic_write_json, atomic_write_text
from vislang.metrics.foils import FoilScores
from vislang.probe import plots
from vislang.probe.foils import (
    CATEGORY_ORDER,
    CHANCE_ACC_R,
    FoilProbe,
    against_chance,
    probe_foils,
)
from vislang.probe.scoring import Scorer
from vislang.probe.winoground import CHANCE, WinogroundProbe, probe_winoground

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
PHENOMENA_PNG = "foils_by_phenomenon.png"
CATEGORIES_PNG = "foils_by_category.png"
WINOGROUND_PNG = "winoground.png"
SIGNIFICANCE = 0.05
"""A foil table's acc_r is in bold when the one-sided binomial test of "above chance" has a
p-value below this."""


@dataclass(frozen=True)
class ModelProbes:
    """One model's probe results (``None`` for a probe that had no examples)."""

    label: str
    scorer: dict[str, Any]
    foils: FoilProbe | None = None
    winoground: WinogroundProbe | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "scorer": dict(self.scorer),
            "foils": None if self.foils is None else self.foils.to_dict(),
            "winoground": None if self.winoground is None else self.winoground.to_dict(),
        }


def model_label(reference: str | Path) -> str:
    """A short name for a model reference: a folder's name, or its parent's when the folder is
    a run's ``model/`` (``runs/clip-tiny-world/model`` → ``clip-tiny-world``)."""
    path = Path(reference)
    if path.name == "model" and path.parent.name:
        return path.parent.name
    return path.name or str(reference)


def run_probes(
    models: Sequence[tuple[str, Scorer]],
    foils: Sequence[FoilExample],
    winoground: Sequence[WinogroundExample],
    *,
    show_progress: bool = False,
) -> list[ModelProbes]:
    """Every model (label, scorer) on the foils and the Winoground examples (either may be
    empty, not both)."""
    if not foils and not winoground:
        raise ConfigError("nothing to probe: no foil items and no Winoground examples")
    labels = [label for label, _ in models]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"two models share a label: {', '.join(labels)}")
    results = []
    for label, scorer in models:
        results.append(
            ModelProbes(
                label=label,
                scorer=scorer.describe(),
                foils=probe_foils(scorer, foils, show_progress=show_progress) if foils else None,
                winoground=(
                    probe_winoground(scorer, winoground, show_progress=show_progress)
                    if winoground
                    else None
                ),
            )
        )
    return results


def write_report(
    results: Sequence[ModelProbes], out: Path, *, data: str, title: str = "Probe report"
) -> Path:
    """Write ``report.md``, ``results.json`` and the PNG plots into ``out``; returns the
    report's path."""
    out.mkdir(parents=True, exist_ok=True)
    pictures = write_pictures(results, out)
    atomic_write_json(out / RESULTS_FILE, {"data": data, "models": [r.to_dict() for r in results]})
    report = out / REPORT_FILE
    atomic_write_text(report, report_markdown(results, data=data, title=title, pictures=pictures))
    return report


def write_pictures(results: Sequence[ModelProbes], out: Path) -> dict[str, str]:
    """Draw the plots the results allow into ``out``: kind (``phenomena``, ``categories``,
    ``winoground``) → file name. The radar chart needs all three categories."""
    out.mkdir(parents=True, exist_ok=True)
    pictures: dict[str, str] = {}
    foils = {r.label: r.foils for r in results if r.foils is not None}
    if foils:
        phenomena = {label: _acc_r(probe.phenomena) for label, probe in foils.items()}
        plots.phenomenon_bars(phenomena, CHANCE_ACC_R, out / PHENOMENA_PNG)
        pictures["phenomena"] = PHENOMENA_PNG
        categories = {label: _acc_r(probe.categories) for label, probe in foils.items()}
        present = [c for c in CATEGORY_ORDER if any(c in v for v in categories.values())]
        if len(present) >= 3:
            plots.category_radar(categories, present, CHANCE_ACC_R, out / CATEGORIES_PNG)
            pictures["categories"] = CATEGORIES_PNG
    groups = {r.label: r.winoground for r in results if r.winoground is not None}
    if groups:
        scores = {label: probe.overall.to_dict() for label, probe in groups.items()}
        plots.winoground_bars(scores, CHANCE, out / WINOGROUND_PNG)
        pictures["winoground"] = WINOGROUND_PNG
    return pictures


def report_markdown(
    results: Sequence[ModelProbes],
    *,
    data: str,
    title: str | None = "Probe report",
    pictures: dict[str, str] | None = None,
    heading: str = "#",
) -> str:
    """The report as markdown: the models, foil tables (per phenomenon, per category), Winoground
    tables (overall, by tag), what was left out, and the ``pictures`` (kind → file name). The
    title is a ``heading``-level heading (none when ``title`` is ``None``), its parts one level
    below."""
    pictures = pictures or {}
    sub = heading + "#"
    lines = [f"{heading} {title}", ""] if title else []
    lines += [f"Data: `{data}`.", ""]
    lines += _table(
        ["model", "family", "score"],
        [[r.label, r.scorer.get("family", ""), _score_name(r.scorer)] for r in results],
    )
    with_foils = [r for r in results if r.foils is not None]
    if with_foils:
        lines += [
            "",
            f"{sub} Foils",
            "",
            "acc_r: share of items whose caption scores above its foil (ties fail); chance "
            f"{CHANCE_ACC_R:g}; **bold**: above chance (one-sided binomial test, p < "
            f"{SIGNIFICANCE:g}).",
            "",
        ]
        lines += _foil_table(with_foils, "phenomenon", lambda p: p.phenomena, overall=True)
        if "phenomena" in pictures:
            lines += ["", f"![acc_r per phenomenon]({pictures['phenomena']})"]
        lines += ["", *_foil_table(with_foils, "category", lambda p: p.categories)]
        if "categories" in pictures:
            lines += ["", f"![acc_r by category]({pictures['categories']})"]
    with_groups = [r for r in results if r.winoground is not None]
    if with_groups:
        lines += [
            "",
            f"{sub} Winoground",
            "",
            "Strict text, image and group scores (ties fail); chance "
            + ", ".join(f"{k} {v:.3f}" for k, v in CHANCE.items())
            + ".",
            "",
        ]
        rows = []
        for r in with_groups:
            probe = r.winoground
            assert probe is not None
            for tag, scores in [("all", probe.overall), *probe.tags.items()]:
                d = scores.to_dict()
                percentages = [_pct(d[name]) for name in ("text", "image", "group")]
                rows.append([r.label, tag, *percentages, str(d["examples"])])
        lines += _table(["model", "tag", "text", "image", "group", "examples"], rows)
        if "winoground" in pictures:
            lines += ["", f"![Winoground scores]({pictures['winoground']})"]
    notes = _left_out_notes(results)
    if notes:
        lines += ["", f"{sub} Left out", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _foil_table(
    results: Sequence[ModelProbes], key: str, pick: Any, overall: bool = False
) -> list[str]:
    probes = [r.foils for r in results if r.foils is not None]
    names: list[str] = []
    for probe in probes:
        names.extend(n for n in pick(probe) if n not in names)
    rows = []
    for name in names:
        found = [pick(probe).get(name) for probe in probes]
        items = next((s.items for s in found if s is not None), 0)
        rows.append([name, str(items)] + [_acc_r_cell(s) for s in found])
    if overall:
        rows.append(
            ["**all**", str(probes[0].overall.items)]
            + [_acc_r_cell(probe.overall) for probe in probes]
        )
    return _table([key, "items"] + [r.label for r in results if r.foils is not None], rows)


def _left_out_notes(results: Sequence[ModelProbes]) -> list[str]:
    notes = []
    for r in results:
        for probe_name, probe in (("foils", r.foils), ("Winoground", r.winoground)):
            if probe is None or not probe.left_out:
                continue
            reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in probe.left_out.items())
            notes.append(f"{r.label}, {probe_name}: {reasons}")
    return notes


def _acc_r(scores: dict[str, Any]) -> dict[str, float]:
    return {name: s.acc_r for name, s in scores.items()}


def _score_name(scorer: dict[str, Any]) -> str:
    name = str(scorer.get("score", ""))
    if scorer.get("length_normalised"):
        name += " (per token)"
    return name


def _acc_r_cell(scores: FoilScores | None) -> str:
    """acc_r in percent, in bold when it is above chance at :data:`SIGNIFICANCE`."""
    if scores is None:
        return _pct(None)
    above = against_chance(scores).get("p_above_chance", 1.0) < SIGNIFICANCE
    return f"**{_pct(scores.acc_r)}**" if above else _pct(scores.acc_r)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


__all__ = [
    "ModelProbes",
    "model_label",
    "report_markdown",
    "run_probes",
    "write_pictures",
    "write_report",
]
