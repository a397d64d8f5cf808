"""LoRA adapters on a causal language model, through ``peft``.

:func:`add_lora` wraps ``lm.model`` (a ``transformers`` causal LM) in a ``peft`` model with
low-rank adapters ``W + (alpha / rank) · B A`` on every linear layer of the decoder (``peft``'s
``"all-linear"``: attention and feed-forward projections, not the output layer) except the
cross-attention layers vislang inserts (:mod:`vislang.models.cross_attention`), which are trained
whole. ``B`` starts at zero, so the adapted model starts equal to the original, and the original
weights are frozen. :func:`merge_lora` folds the adapters into the weights and unwraps the model,
which then has exactly the original architecture (what a saved model holds).
"""

from __future__ import annotations

import warnings

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from vislang.models.causal_lm import CausalLM
from vislang.models.cross_attention import LAYER_NAME


def add_lora(lm: CausalLM, *, rank: int = 8, alpha: int = 16, seed: int = 0) -> None:
    """Put LoRA adapters of ``rank`` on ``lm.model``'s linear layers (A drawn from ``seed``,
    B zero); every other weight of ``lm.model`` is frozen."""
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    inserted = any(name.endswith(f".{LAYER_NAME}") for name, _ in lm.model.named_modules())
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules="all-linear",
        exclude_modules=rf".*\.{LAYER_NAME}(\..*)?" if inserted else None,
        bias="none",
    )
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # peft asks transformers a deprecated question; nothing for the user to act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        torch.manual_seed(seed)
        lm.model = get_peft_model(lm.model, config)


def has_lora(lm: CausalLM) -> bool:
    """Whether ``lm.model`` carries LoRA adapters."""
    return isinstance(lm.model, PeftModel)


def merge_lora(lm: CausalLM) -> None:
    """Fold the adapters into the weights and unwrap ``lm.model`` (no-op without adapters)."""
    if has_lora(lm):
        lm.model = lm.model.merge_and_unload()


__all__ = ["add_lora", "has_lora", "merge_lora"]
