"""Pieces several test modules share: a one-layer dual-encoder architecture, a tiny tokenizer,
language model and vision tower with random weights, and a launcher that runs a worker script on
several CPU processes with torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import torch

from vislang.data.preprocess import PreprocessConfig
from vislang.models.causal_lm import CausalLM, CausalLMConfig
from vislang.models.lm_tokenizer import train_tokenizer
from vislang.models.vision_tower import VisionTower, VisionTowerConfig

SMALL_DUAL_ENCODER = {
    "vision_layers": 1,
    "text_layers": 1,
    "vision_width": 32,
    "text_width": 32,
    "vision_heads": 2,
    "text_heads": 2,
    "vision_mlp_dim": 64,
    "text_mlp_dim": 64,
    "embed_dim": 32,
    "patch_size": 16,
}
"""Architecture overrides that make any tiny dual-encoder preset train in a fraction of a second."""

CORPUS = [
    "There is a red circle and two blue squares.",
    "A red circle is to the left of a blue square.",
    "There are three stars.",
    "There is no green heart.",
    "What colour is the circle? red",
    "What shape is the blue object? square",
    "How many stars are there? 2",
    "Is there a green heart? no",
    "Es gibt einen roten Kreis.",
    "Welche Farbe hat der Kreis? rot",
    "图中有一个红色的圆形。",
    "Kuna mduara mwekundu.",
    "en: de: zh: sw:",
]
"""World-like text in several languages that the tiny tokenizer is trained on."""


@lru_cache(maxsize=1)
def tiny_tokenizer():
    """A byte-level BPE tokenizer of the world's kind (``<image>`` is id 3), shared by the
    tests' models (none of them changes it)."""
    return train_tokenizer(CORPUS * 3, 300, model_max_length=128)


def tiny_lm(seed: int = 0) -> CausalLM:
    """A 2-layer, 32-wide Llama-style LM with random weights."""
    tokenizer = tiny_tokenizer()
    config = CausalLMConfig(
        name="tiny-test-lm",
        hf_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
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
    return CausalLM.with_tokenizer(config, tokenizer)


def tiny_tower(seed: int = 0) -> VisionTower:
    """A 2-layer, 24-wide CLIP vision tower on 32×32 images in 8×8 patches (16 patch tokens
    after the class token is dropped)."""
    config = VisionTowerConfig(
        name="tiny-test-tower",
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


def tiny_pixels(count: int, seed: int = 0) -> torch.Tensor:
    """``count`` random normalised 32×32 images for :func:`tiny_tower`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 3, 32, 32, generator=generator)


def run_on_processes(worker: Path, out_dir: Path, processes: int, timeout: int) -> None:
    """Run ``worker OUT_DIR`` under ``torchrun --standalone`` (a free local port) with
    ``processes`` single-threaded processes; fail with the end of its stderr."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        str(worker),
        str(out_dir),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = run_to_end(command, env=env, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-4000:]


def run_to_end(
    command: list[str], *, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and capture its output. One still running after ``timeout`` seconds is
    stopped with SIGTERM first (torchrun then stops its workers, which live in sessions of their
    own and would outlive a SIGKILL of torchrun) and the test fails with its stderr's end."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            pytest.fail(
                f"{' '.join(command[:6])} … still running after {timeout} s; "
                f"stderr ends:\n{stderr[-4000:]}"
            )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
