"""The demo runner: a sequence of sections, each writing into one run folder and one report.

A section is an object with a ``name``, a ``title`` and ``run(context) -> SectionResult``. The
runner gives every section the same :class:`DemoContext` (run folder, quick mode, seed, and a
``shared`` dict through which later sections find what earlier ones made, e.g. the world's
folder), collects each section's markdown into ``report.md`` and its numbers into
``summary.json``. Adding a stage to the demo means adding a section module and listing it in
:data:`vislang.demo.sections.SECTIONS`; the runner does not change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vislang import __version__
from vislang.fileio import atomic_write_text


@dataclass
class DemoContext:
    """What every section gets: where to write, how much to do, and what earlier sections made."""

    out: Path
    quick: bool = False
    seed: int = 0
    log: Callable[[str], None] = print
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class SectionResult:
    """A section's contribution: report markdown, numbers for the summary, files it wrote."""

    markdown: str
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


class Section(Protocol):
    """One stage of the demo."""

    name: str
    title: str

    def run(self, context: DemoContext) -> SectionResult:
        """Do the stage's work inside ``context.out`` and describe it."""
        ...


def run_demo(context: DemoContext, sections: Sequence[Section]) -> dict[str, Any]:
    """Run ``sections`` in order; write ``report.md`` and ``summary.json`` into ``context.out``.

    Returns the summary: per section its numbers, files and seconds.
    """
    context.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    parts = [
        "# vislang demo",
        "",
        f"vislang {__version__}, seed {context.seed}, "
        f"{'quick' if context.quick else 'full'} mode. Sections: "
        + ", ".join(s.title for s in sections)
        + ".",
    ]
    summary: dict[str, Any] = {"out": str(context.out), "quick": context.quick, "sections": {}}
    for number, section in enumerate(sections, start=1):
        context.log(f"[{number}/{len(sections)}] {section.title}")
        section_started = time.perf_counter()
        result = section.run(context)
        seconds = time.perf_counter() - section_started
        parts += ["", f"## {number}. {section.title}", "", result.markdown.strip()]
        summary["sections"][section.name] = {
            **result.summary,
            "files": [p.relative_to(context.out).as_posix() for p in result.files],
            "seconds": round(seconds, 2),
        }
    summary["seconds"] = round(time.perf_counter() - started, 2)
    parts += ["", f"Total time: {summary['seconds']:.1f} s."]
    report = context.out / "report.md"
    atomic_write_text(report, "\n".join(parts) + "\n")
    summary["report"] = str(report)
    atomic_write_text(
        context.out / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    )
    return summary
