"""Demo section: retrieval-augmented captioning in seven languages, with and without training.

The work is in :mod:`vislang.demo.captioning_run`, imported when the section runs (it needs
torch, transformers and FAISS, which the rest of the command line does not load).
"""

from __future__ import annotations

from vislang.demo.runner import DemoContext, SectionResult


class CaptioningSection:
    """Train the frozen parts and the cross-attention captioners on the world, prompt the
    language model without training (LMCap), and compare them on the i.i.d. and compositional
    test splits in every language."""

    name = "captioning"
    title = "Retrieval-augmented captioning: SmallCap/PAELLA and LMCap"

    def run(self, context: DemoContext) -> SectionResult:
        from vislang.demo.captioning_run import run_captioning

        return run_captioning(context)
