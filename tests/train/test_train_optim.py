"""AdamW parameter groups and the warmup + cosine learning-rate schedule."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.train.config import TrainConfig
from vislang.train.optim import (
    build_optimizer,
    default_param_groups,
    lr_factor,
    set_learning_rate,
)
from vislang.train.params import frozen_fingerprint, parameter_counts


class Tower(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.proj = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.temperature = nn.Parameter(torch.tensor(0.07))


def test_warmup_then_cosine_to_the_floor() -> None:
    config = TrainConfig(steps=10, batch_size=1, warmup_steps=4, min_lr_ratio=0.1)
    factors = [lr_factor(step, config) for step in range(10)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0  # decay starts at the peak
    assert all(a > b for a, b in itertools.pairwise(factors[4:]))  # strictly decreasing
    halfway = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 3 / 6))
    assert factors[7] == pytest.approx(halfway)
    assert factors[-1] > 0.1  # the floor would be reached one step after the last


def test_constant_schedule_after_warmup() -> None:
    config = TrainConfig(steps=5, batch_size=1, warmup_steps=2, schedule="constant")
    assert [lr_factor(step, config) for step in range(5)] == [0.5, 1.0, 1.0, 1.0, 1.0]


def test_default_groups_decay_only_matrices_of_trainable_parameters() -> None:
    model = Tower()
    decayed, undecayed = default_param_groups(model, weight_decay=0.1)
    assert decayed["weight_decay"] == 0.1 and undecayed["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(model.proj.weight)}
    expected = [model.embed.weight, model.proj.bias, model.norm.weight, model.norm.bias]
    assert {id(p) for p in undecayed["params"]} == {id(p) for p in [*expected, model.temperature]}


def test_optimizer_gets_only_trainable_parameters_and_per_group_rates() -> None:
    model = Tower()
    config = TrainConfig(steps=3, batch_size=1, lr=0.01)
    groups = [
        {"params": [model.proj.weight, model.proj.bias], "lr": 0.1},
        {"params": [model.embed.weight, model.norm.weight, model.norm.bias, model.temperature]},
    ]
    optimizer = build_optimizer(model, groups, config)
    set_learning_rate(optimizer, 0.5)
    assert [group["lr"] for group in optimizer.param_groups] == [0.05, 0.005]
    frozen = {id(p) for p in model.frozen.parameters()}
    assert not frozen & {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert parameter_counts(model) == {"trainable": 40 + 15 + 6 + 1, "frozen": 20}


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (lambda m: [{"params": [m.frozen.weight, *m.proj.parameters()]}], "'frozen.weight' is"),
        (lambda m: [{"params": [m.proj.weight]}, {"params": [m.proj.weight]}], "in two groups"),
        (lambda m: [{"params": [m.proj.weight]}], "is in no parameter group"),
        (lambda m: [{"params": list(m.parameters()), "momentum": 0.9}], "unknown key 'momentum'"),
    ],
)
def test_wrong_param_groups_are_refused(groups, message: str) -> None:
    model = Tower()
    with pytest.raises(ConfigError, match=message):
        build_optimizer(model, groups(model), TrainConfig(steps=1, batch_size=1))


def test_frozen_fingerprint_sees_any_change_of_a_frozen_weight() -> None:
    model = Tower()
    before = frozen_fingerprint(model)
    with torch.no_grad():
        model.proj.weight.add_(1.0)  # trainable: not part of the fingerprint
    assert frozen_fingerprint(model) == before
    with torch.no_grad():
        model.frozen.bias[2] = torch.nextafter(model.frozen.bias[2], torch.tensor(1.0))
    assert frozen_fingerprint(model) != before
