"""CLIP-style image preprocessing: resize the shortest side, centre crop, scale, normalise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessConfig:
    """How an encoder wants its pixels: shortest side resized to ``resize`` (bicubic,
    antialiased), centre crop of ``crop``×``crop``, values scaled to [0, 1], then normalised per
    channel with ``mean`` and ``std``. Defaults are CLIP's (224, 224, OpenAI mean/std).

    ``resize_mode="square"`` resizes both sides to ``resize`` instead, without keeping the aspect
    ratio, before the same centre crop (SigLIP's processor: 224×224, ``crop == resize``, so the
    crop removes nothing)."""

    resize: int = 224
    crop: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resize_mode: Literal["shortest_edge", "square"] = "shortest_edge"
