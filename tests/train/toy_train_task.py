"""A small regression task for the training loop's tests, and a helper writing its configs.

Configs name it by import path (``toy_train_task:build_toy_task``): this folder must be on the
import path, as it is for pytest and as the subprocess tests arrange with ``PYTHONPATH``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from vislang.train import TaskContext, TrainTask
from vislang.train.config import dumps_toml
from vislang.train.seeding import derive_seed

TOY_TASK = "toy_train_task:build_toy_task"


@dataclass(frozen=True)
class ToyOptions:
    """The toy's ``[task]`` keys."""

    features: int = 8
    hidden: int = 16
    dropout: float = 0.0  # > 0 makes every step depend on the step's random seed
    frozen_input: bool = False  # a frozen random projection in front of the trained layers
    step_delay: float = 0.0  # seconds slept per batch, so that a test can interrupt a run
    eval_size: int = 64


class ToyRegression(TrainTask):
    """Fit y = sin(x · w) + noise with a two-layer MLP; the data are a function of seed and step."""

    def __init__(self, context: TaskContext) -> None:
        self.options = context.options_as(ToyOptions)
        self.seed = context.seed
        self.batch_size = context.batch_size
        generator = torch.Generator().manual_seed(derive_seed(self.seed, "toy-target"))
        self.target = torch.randn(self.options.features, generator=generator)

    def examples(self, count: int, *key: int | str) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` examples drawn from a generator seeded by the task seed and ``key``."""
        generator = torch.Generator().manual_seed(derive_seed(self.seed, *key))
        x = torch.randn(count, self.options.features, generator=generator)
        noise = 0.05 * torch.randn(count, generator=generator)
        return x, torch.sin(x @ self.target) + noise

    def build_model(self) -> nn.Module:
        layers: list[nn.Module] = []
        if self.options.frozen_input:
            projection = nn.Linear(self.options.features, self.options.features)
            projection.requires_grad_(False)
            layers.append(projection)
        layers += [
            nn.Linear(self.options.features, self.options.hidden),
            nn.LayerNorm(self.options.hidden),
            nn.GELU(),
            nn.Dropout(self.options.dropout),
            nn.Linear(self.options.hidden, 1),
        ]
        return nn.Sequential(*layers)

    def batch(self, step: int, rank: int, world_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.options.step_delay:
            time.sleep(self.options.step_delay)
        x, y = self.examples(self.batch_size, "batch", step)
        shard = self.batch_size // world_size
        return x[rank * shard : (rank + 1) * shard], y[rank * shard : (rank + 1) * shard]

    def loss(
        self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        prediction = model(x).squeeze(-1).float()
        loss = nn.functional.mse_loss(prediction, y)
        return loss, {"mae": float((prediction.detach() - y).abs().mean())}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        x, y = self.examples(self.options.eval_size, "eval")
        return {"eval_mse": float(nn.functional.mse_loss(model(x).squeeze(-1), y))}

    def export(self, model: nn.Module, out_dir: Path) -> None:
        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        save_file(state, out_dir / "model.safetensors")


def build_toy_task(context: TaskContext) -> ToyRegression:
    """The factory configs name."""
    return ToyRegression(context)


def write_toy_config(path: Path, task: Mapping[str, Any] | None = None, **train: Any) -> Path:
    """Write a config training the toy (``task`` adds [task] keys; ``train`` sets [train] keys)."""
    settings = {"steps": 20, "batch_size": 16, "lr": 0.01, "log_every": 5, **train}
    path.write_text(dumps_toml({"task": {"name": TOY_TASK, **(task or {})}, "train": settings}))
    return path
