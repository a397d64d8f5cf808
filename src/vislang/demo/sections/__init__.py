"""The demo's sections, in the order they run.

A later stage (dual encoders, captioning, VQA, probes) adds a module here with a class that has
``name``, ``title`` and ``run(context) -> SectionResult`` (see :mod:`vislang.demo.runner`), and
appends an instance to :data:`SECTIONS`. Sections read what earlier ones made from
``context.shared`` (the world section stores its folder under ``"world_dir"``).
"""

from __future__ import annotations

from vislang.demo.runner import Section
from vislang.demo.sections.captioning import CaptioningSection
from vislang.demo.sections.dual_encoders import DualEncoderSection
from vislang.demo.sections.probes import ProbeSection
from vislang.demo.sections.vqa import VQASection
from vislang.demo.sections.world import WorldSection

SECTIONS: list[Section] = [
    WorldSection(),
    DualEncoderSection(),
    CaptioningSection(),
    VQASection(),
    ProbeSection(),
]

__all__ = ["SECTIONS"]
