"""``vislang demo``: the toolkit end to end on a laptop CPU, written up as a report.

:func:`run_demo` runs the sections of :data:`vislang.demo.sections.SECTIONS` in one run folder
and writes ``report.md`` (with pictures) and ``summary.json`` there.
"""

from vislang.demo.runner import DemoContext, Section, SectionResult, run_demo

__all__ = ["DemoContext", "Section", "SectionResult", "run_demo"]
