"""Demo section: the demo's models side by side on the world's foils and Winoground groups,
and the dual encoder's two towers on binding.

The work is in :mod:`vislang.demo.probe_run`, imported when the section runs (it needs torch and
transformers, which the rest of the command line does not load).
"""

from __future__ import annotations

from vislang.demo.runner import DemoContext, SectionResult


class ProbeSection:
    """Score the dual encoder, captioner, VLM and language model earlier sections left on the
    same foils and Winoground groups, with the text-only baseline beside them, and probe the
    dual encoder's image and text embeddings for binding."""

    name = "probes"
    title = "Probes: foils, Winoground and binding"

    def run(self, context: DemoContext) -> SectionResult:
        from vislang.demo.probe_run import run_probes_section

        return run_probes_section(context)
