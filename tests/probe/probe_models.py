"""Tiny randomly initialised models of every family the probes score, saved as vislang model
folders, and small image files to score them on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vislang.data.preprocess import PreprocessConfig
from vislang.models.causal_lm import CausalLM, CausalLMConfig
from vislang.models.cross_attention import CrossAttentionConfig
from vislang.models.flamingo import FlamingoVLM
from vislang.models.lm_tokenizer import train_tokenizer
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model
from vislang.models.smallcap import SmallCap
from vislang.models.vision_tower import VisionTower, VisionTowerConfig
from vislang.retrieval.caption_retrieval import RetrievalConfig

CORPUS = [
    "There is a red circle and two blue squares.",
    "A red circle is to the left of a blue square.",
    "There are three stars.",
    "There is no green heart.",
    "en: de:",
]


@lru_cache(maxsize=1)
def tokenizer():
    """A byte-level BPE tokenizer of the world's kind, with ``<image>``."""
    return train_tokenizer(CORPUS * 3, 300, model_max_length=128)


def lm(seed: int = 0) -> CausalLM:
    """A 2-layer, 32-wide Llama-style LM with random weights."""
    vocab = tokenizer()
    config = CausalLMConfig(
        name="probe-test-lm",
        hf_config={
            "model_type": "llama",
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 128,
            "tie_word_embeddings": True,
            "pad_token_id": 0,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        seed=seed,
    )
    return CausalLM.with_tokenizer(config, vocab)


def tower(seed: int = 0) -> VisionTower:
    """A 2-layer, 24-wide CLIP vision tower on 32×32 images."""
    config = VisionTowerConfig(
        name="probe-test-tower",
        hf_config={
            "model_type": "clip_vision_model",
            "hidden_size": 24,
            "intermediate_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        preprocess=PreprocessConfig(resize=32, crop=32),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VisionTower.from_config(config)


def dual_encoder():
    """A one-layer CLIP dual encoder on 64×64 images."""
    return load_model(
        "clip-tiny",
        patch_size=16,
        vision_width=32,
        vision_layers=1,
        vision_heads=2,
        vision_mlp_dim=64,
        text_width=32,
        text_layers=1,
        text_heads=2,
        text_mlp_dim=64,
        embed_dim=32,
    )


def prefix_vlm() -> PrefixVLM:
    """A visual-prefix VLM of the tiny tower and LM."""
    return PrefixVLM.from_parts(tower(), lm(), "mlp", seed=1)


def flamingo() -> FlamingoVLM:
    """A cross-attention VLM of the tiny tower and LM, its gates opened so the image counts."""
    model = FlamingoVLM.from_parts(
        tower(), lm(), "resampler", {"queries": 4}, every=1, feed_forward=0, seed=1
    )
    with torch.no_grad():
        for layer in model.cross_attention.layers.values():
            layer.gate.fill_(1.0)
    return model


def smallcap() -> SmallCap:
    """A SmallCap of the tiny LM and dual encoder, prompting without retrieved captions."""
    return SmallCap.build(
        lm(),
        dual_encoder(),
        CrossAttentionConfig(encoder_dim=1, reduction=2),
        languages=["en"],
        prompt_set="paella",
        retrieval=RetrievalConfig(keep=0),
    )


FAMILIES = {
    "dual_encoder": dual_encoder,
    "causal_lm": lm,
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
