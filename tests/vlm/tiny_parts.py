"""Folders holding a tiny dual encoder and the shared tiny LM, for vision-language model
tests."""

from __future__ import annotations

from pathlib import Path

from shared_parts import SMALL_DUAL_ENCODER, tiny_lm
from vislang.models.registry import load_model, save_model


def save_parts(folder: Path) -> tuple[Path, Path]:
    """A tiny CLIP dual encoder (64×64 images, 16 patches) and the tiny LM saved as vislang model
    folders; returns (vision folder, LM folder)."""
    vision = save_model(load_model("clip-tiny", **SMALL_DUAL_ENCODER), folder / "vision")
    lm = save_model(tiny_lm(), folder / "lm")
    return vision, lm
