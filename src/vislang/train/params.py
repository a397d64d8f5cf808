"""Which parameters a run trains, how many there are, and a fingerprint of the frozen ones.

A family freezes weights the standard way (``requires_grad_(False)`` in ``build_model``); only the
remaining parameters reach the optimiser. :func:`frozen_fingerprint` taken before and after
training proves the frozen weights were left untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import torch
from torch import nn


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every parameter that requires a gradient, tied ones listed once."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def frozen_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every parameter that does not require a gradient."""
    return [(name, p) for name, p in model.named_parameters() if not p.requires_grad]


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Number of trainable and frozen scalars: ``{"trainable": n, "frozen": m}``."""
    return {
        "trainable": sum(p.numel() for _, p in trainable_parameters(model)),
        "frozen": sum(p.numel() for _, p in frozen_parameters(model)),
    }


def frozen_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the frozen parameters' names, shapes, dtypes and exact values."""
    return fingerprint(frozen_parameters(model))


def trainable_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the trainable parameters' names, shapes, dtypes and exact values."""
    return fingerprint(trainable_parameters(model))


def fingerprint(named_tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 of ``(name, tensor)`` pairs: names, shapes, dtypes and exact values, in order."""
    digest = hashlib.sha256()
    for name, tensor in named_tensors:
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(data.shape)}|{data.dtype}|".encode())
        if data.numel():
            digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
