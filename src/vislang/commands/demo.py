"""``vislang demo``: run the demo's sections into a run folder and write its report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from vislang import console
from vislang.demo import DemoContext, run_demo
from vislang.demo.sections import SECTIONS

RUNS = Path("vislang-runs")


def default_run_folder() -> Path:
    """``vislang-runs/demo-<YYYYmmdd-HHMMSS>`` under the current folder (one per run)."""
    return RUNS / f"demo-{datetime.now():%Y%m%d-%H%M%S}"


def demo_command(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Run folder (default: vislang-runs/demo-<date>-<time>). An existing one is "
            "reused and the demo's files in it are replaced.",
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A small run that takes seconds (for a first look).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed of every section.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the demo: generate the synthetic world and write a report with pictures."""
    folder = out if out is not None else default_run_folder()
    summary = run_demo(DemoContext(folder, quick=quick, seed=seed, log=console.log), SECTIONS)

    def render() -> None:
        rows = [
            {"section": name, "seconds": info["seconds"], "files": ", ".join(info["files"])}
            for name, info in summary["sections"].items()
        ]
        console.stdout.print(console.rows_table(rows, title=f"demo written to {folder}"))
        console.stdout.print(f"report: {summary['report']}")

    console.emit(summary, as_json, render)
