"""Tiny randomly initialised models of every family the probes score, saved as vislang model
folders, and small image files to score them on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from shared_parts import SMALL_DUAL_ENCODER, tiny_lm, tiny_tower
from vislang.models.cross_attention import CrossAttentionConfig
from vislang.models.flamingo import FlamingoVLM
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model
from vislang.models.smallcap import SmallCap
from vislang.retrieval.caption_retrieval import RetrievalConfig


def dual_encoder():
    """A one-layer CLIP dual encoder on 64×64 images."""
    return load_model("clip-tiny", **SMALL_DUAL_ENCODER)


def prefix_vlm() -> PrefixVLM:
    """A visual-prefix VLM of the tiny tower and LM."""
    return PrefixVLM.from_parts(tiny_tower(), tiny_lm(), "mlp", seed=1)


def flamingo() -> FlamingoVLM:
    """A cross-attention VLM of the tiny tower and LM, its gates opened so the image counts."""
    model = FlamingoVLM.from_parts(
        tiny_tower(), tiny_lm(), "resampler", {"queries": 4}, every=1, feed_forward=0, seed=1
    )
    with torch.no_grad():
        for layer in model.cross_attention.layers.values():
            layer.gate.fill_(1.0)
    return model


def smallcap() -> SmallCap:
    """A SmallCap of the tiny LM and dual encoder, prompting without retrieved captions."""
    return SmallCap.build(
        tiny_lm(),
        dual_encoder(),
        CrossAttentionConfig(encoder_dim=1, reduction=2),
        languages=["en"],
        prompt_set="paella",
        retrieval=RetrievalConfig(keep=0),
    )


FAMILIES = {
    "dual_encoder": dual_encoder,
    "causal_lm": tiny_lm,
    "prefix_vlm": prefix_vlm,
    "flamingo": flamingo,
    "smallcap": smallcap,
}


def saved(name: str, folder: Path) -> Path:
    """The model ``name`` of :data:`FAMILIES` saved as a vislang model folder in ``folder``."""
    return save_model(FAMILIES[name](), folder / name)


def images(folder: Path, count: int = 3, size: int = 64, seed: int = 0) -> list[Path]:
    """``count`` distinct random RGB PNG files."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        path = folder / f"image{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths
