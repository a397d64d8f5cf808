"""AdamW over the trainable parameters, in weight-decay groups, with warmup then cosine decay.

The learning rate is a pure function of the step (:func:`lr_factor`), so a resumed run needs no
scheduler state beyond the step it resumes from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.train.config import TrainConfig
from vislang.train.params import trainable_parameters

# Keys a task's parameter group may set (besides "params"); everything else comes from [train].
GROUP_KEYS = frozenset({"params", "lr", "weight_decay"})


def default_param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two groups of trainable parameters: decayed matrices, and undecayed rest.

    Biases, norm weights, scalars (such as a learned temperature) and embedding tables are not
    decayed; every other parameter with two or more dimensions is.
    """
    embedding_weights = {
        id(module.weight)
        for module in model.modules()
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag))
    }
    decayed, undecayed = [], []
    for _, parameter in trainable_parameters(model):
        no_decay = parameter.ndim < 2 or id(parameter) in embedding_weights
        (undecayed if no_decay else decayed).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": undecayed, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


def check_param_groups(model: nn.Module, groups: Sequence[Mapping[str, Any]]) -> None:
    """Every trainable parameter in exactly one group, and nothing else; clear errors otherwise."""
    names = {id(p): name for name, p in model.named_parameters()}
    trainable = {id(p) for _, p in trainable_parameters(model)}
    seen: set[int] = set()
    for index, group in enumerate(groups):
        unknown = sorted(set(group) - GROUP_KEYS)
        if unknown:
            raise ConfigError(
                f"parameter group {index}: unknown key '{unknown[0]}' "
                f"(allowed: {', '.join(sorted(GROUP_KEYS))})"
            )
        for parameter in group["params"]:
            name = names.get(id(parameter), "<not a parameter of the model>")
            if id(parameter) not in trainable:
                raise ConfigError(f"parameter group {index}: '{name}' is frozen or foreign")
            if id(parameter) in seen:
                raise ConfigError(f"parameter group {index}: '{name}' is in two groups")
            seen.add(id(parameter))
    missing = [name for name, p in trainable_parameters(model) if id(p) not in seen]
    if missing:
        raise ConfigError(f"trainable parameter '{missing[0]}' is in no parameter group")


def build_optimizer(
    model: nn.Module, groups: Sequence[Mapping[str, Any]], config: TrainConfig
) -> torch.optim.AdamW:
    """AdamW over ``groups`` (checked); each group remembers its peak rate as ``base_lr``."""
    check_param_groups(model, groups)
    if not groups:
        raise ConfigError("the model has no trainable parameters")
    prepared = []
    for group in groups:
        base_lr = float(group.get("lr", config.lr))
        prepared.append({**group, "params": list(group["params"]), "base_lr": base_lr})
    return torch.optim.AdamW(
        prepared,
        lr=config.lr,
        betas=config.betas,
        eps=config.eps,
        weight_decay=config.weight_decay,
    )


def lr_factor(step: int, config: TrainConfig) -> float:
    """Multiplier of the peak rate for optimiser step ``step`` (0-based).

    Linear warmup over ``warmup_steps`` (the first step already moves: ``1 / warmup_steps``), then
    constant, or cosine decay from 1 towards ``min_lr_ratio``, which it would reach at step
    ``steps`` (one past the last), so that no step is spent at the final rate.
    """
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    progress = (step - config.warmup_steps) / (config.steps - config.warmup_steps)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


def set_learning_rate(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set every group's rate to its ``base_lr`` times ``factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
