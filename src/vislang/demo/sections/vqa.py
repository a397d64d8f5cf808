"""Demo section: vision-language models with each connector answer questions about the world.

The work is in :mod:`vislang.demo.vqa_run`, imported when the section runs (it needs torch and
transformers, which the rest of the command line does not load).
"""

from __future__ import annotations

from vislang.demo.runner import DemoContext, SectionResult


class VQASection:
    """Train one visual-prefix VLM per connector, compare them on the world's questions against
    the language model without the image, and show answers in every language; later sections
    find the best model in ``context.shared["vlm_dir"]``."""

    name = "vqa"
    title = "Vision-language models: connectors compared on VQA"

    def run(self, context: DemoContext) -> SectionResult:
        from vislang.demo.vqa_run import run_vqa

        return run_vqa(context)
