"""Demo section: train tiny CLIP and tiny SigLIP on the world and compare the two losses.

The work is in :mod:`vislang.demo.dual_encoder_run`, imported when the section runs (it needs
torch, transformers and FAISS, which the rest of the command line does not load).
"""

from __future__ import annotations

from vislang.demo.runner import DemoContext, SectionResult


class DualEncoderSection:
    """Train, evaluate and compare tiny CLIP and SigLIP; index the test split with the better
    one, which later sections find in ``context.shared["dual_encoder_dir"]``."""

    name = "dual_encoders"
    title = "Dual encoders: CLIP and SigLIP trained on the world"

    def run(self, context: DemoContext) -> SectionResult:
        from vislang.demo.dual_encoder_run import run_dual_encoders

        return run_dual_encoders(context)
