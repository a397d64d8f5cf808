"""Tiny, fast parts for vision-language model tests: random 32×32 pixels for the shared tiny
tower, and folders holding a tiny dual encoder and the shared tiny LM."""

from __future__ import annotations

from pathlib import Path

import torch

from shared_parts import SMALL_DUAL_ENCODER, tiny_lm
from vislang.models.registry import load_model, save_model


def pixels(count: int, seed: int = 0) -> torch.Tensor:
    """``count`` random normalised 32×32 images."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 3, 32, 32, generator=generator)


def save_parts(folder: Path) -> tuple[Path, Path]:
    """A tiny CLIP dual encoder (64×64 images, 16 patches) and the tiny LM saved as vislang model
    folders; returns (vision folder, LM folder)."""
    vision = save_model(load_model("clip-tiny", **SMALL_DUAL_ENCODER), folder / "vision")
    lm = save_model(tiny_lm(), folder / "lm")
    return vision, lm
