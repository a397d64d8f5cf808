"""Checkpoint directories: exact round trips, atomic publication, pruning, leftovers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import nn

from vislang.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    remove_leftovers,
    save_checkpoint,
)
from vislang.train.config import TrainConfig
from vislang.train.optim import build_optimizer, default_param_groups

CONFIG = TrainConfig(steps=10, batch_size=4, lr=0.05, weight_decay=0.1)


def make_model(hidden: int = 6) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, hidden), nn.BatchNorm1d(hidden))
    model[0].requires_grad_(False)
    return model


def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return build_optimizer(model, default_param_groups(model, CONFIG.weight_decay), CONFIG)


def names(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [by_id[id(p)] for g in optimizer.param_groups for p in g["params"]]


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: range) -> None:
    for step in steps:
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(step))
        model(x).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()


def save(root: Path, step: int, model: nn.Module, optimizer, keep: int = 2) -> Path:
    meta = {"train_seconds": 1.0}
    return save_checkpoint(root, step, model, optimizer, names(model, optimizer), meta, keep)


def test_round_trip_restores_weights_buffers_and_optimizer_bitwise(tmp_path: Path) -> None:
    model, optimizer = make_model(), None
    optimizer = make_optimizer(model)
    train_steps(model, optimizer, range(3))
    path = save(tmp_path, 3, model, optimizer)

    restored = make_model()
    restored_optimizer = make_optimizer(restored)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.path == path and checkpoint.step == 3
    load_checkpoint(checkpoint, restored, restored_optimizer, names(restored, restored_optimizer))
    for (name, a), b in zip(
        model.state_dict().items(), restored.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name  # parameters and BatchNorm running statistics
    train_steps(model, optimizer, range(3, 6))
    train_steps(restored, restored_optimizer, range(3, 6))
    for a, b in zip(model.parameters(), restored.parameters(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_holds_trainable_state_in_safetensors_and_json_only(tmp_path: Path) -> None:
    model = make_model()
    optimizer = make_optimizer(model)
    train_steps(model, optimizer, range(1))
    path = save(tmp_path, 1, model, optimizer)
    assert sorted(p.name for p in path.iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]
    with safe_open(path / "model.safetensors", "pt") as handle:
        keys = set(handle.keys())
    assert "0.weight" not in keys and "0.bias" not in keys  # frozen: rebuilt, not saved
    assert {"1.weight", "2.running_mean", "2.num_batches_tracked"} <= keys
    state = json.loads((path / "state.json").read_text())
    assert state["step"] == 1 and state["train_seconds"] == 1.0
    assert state["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]


def test_latest_pointer_and_pruning_keep_the_newest(tmp_path: Path) -> None:
    model = make_model()
    optimizer = make_optimizer(model)
    for step in (2, 4, 6, 8):
        save(tmp_path, step, model, optimizer, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latest",
        "step-00000006",
        "step-00000008",
    ]
    assert (tmp_path / "latest").read_text() == "step-00000008\n"


def test_leftovers_of_a_killed_save_are_ignored_then_removed(tmp_path: Path) -> None:
    model = make_model()
    optimizer = make_optimizer(model)
    save(tmp_path, 4, model, optimizer)
    half_written = tmp_path / ".tmp-step-00000006-abc"
    half_written.mkdir()
    (half_written / "model.safetensors").write_bytes(b"\x00" * 10)
    half_deleted = tmp_path / ".trash-step-00000002-xyz" / "step-00000002"
    half_deleted.mkdir(parents=True)
    no_state = tmp_path / "step-00000009"  # not produced by save_checkpoint: skipped as incomplete
    no_state.mkdir()
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.step == 4
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latest",
        "step-00000004",
        "step-00000009",
    ]


def test_newest_complete_directory_wins_over_a_stale_pointer(tmp_path: Path) -> None:
    model = make_model()
    optimizer = make_optimizer(model)
    save(tmp_path, 4, model, optimizer)
    save(tmp_path, 6, model, optimizer)
    (tmp_path / "latest").write_text("step-00000004\n")  # killed between rename and pointer
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.step == 6


def test_checkpoint_of_another_model_is_refused_with_the_file(tmp_path: Path) -> None:
    model = make_model()
    optimizer = make_optimizer(model)
    save(tmp_path, 1, model, optimizer)
    other = make_model(hidden=5)
    other_optimizer = make_optimizer(other)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None
    with pytest.raises(CheckpointError, match=r"model\.safetensors: '1\.weight' has shape"):
        load_checkpoint(checkpoint, other, other_optimizer, names(other, other_optimizer))
    assert latest_checkpoint(tmp_path / "absent") is None
