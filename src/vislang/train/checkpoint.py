"""Training checkpoints: directories that appear complete or not at all, never pickles.

Layout under a run's ``checkpoints/`` folder::

    step-00000200/
        model.safetensors      trainable parameters and buffers (frozen weights are rebuilt)
        optimizer.safetensors  the optimiser's tensors (AdamW moments and step counts)
        state.json             step, optimiser groups, config, frozen-weight fingerprint, ...
    latest                     the name of the newest checkpoint directory, replaced atomically

A checkpoint is written into a hidden temporary directory, flushed to disk, then renamed to its
final name, so a process killed at any moment leaves either the complete directory or a hidden
leftover that :func:`remove_leftovers` deletes. The learning rate schedule and the random
generators are functions of the step (see :mod:`vislang.train.optim`, :mod:`vislang.train.seeding`),
so the step is all the scheduler and random state a checkpoint needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from vislang.errors import VislangError
from vislang.fileio import atomic_write_json, atomic_write_text

CHECKPOINT_FORMAT = "vislang-train-checkpoint/1"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
LATEST_FILE = "latest"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")
_LEFTOVER_PREFIXES = (".tmp-", ".trash-")


class CheckpointError(VislangError):
    """A checkpoint does not fit the model or optimiser it is loaded into."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint directory and its ``state.json``."""

    path: Path
    step: int
    state: dict[str, Any]


def checkpoint_name(step: int) -> str:
    """The directory name of the checkpoint after ``step`` optimiser steps."""
    return f"step-{step:08d}"


def training_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """What training changes in ``model``: trainable parameters and persistent buffers, by name."""
    state = model.state_dict()
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    names += [name for name, _ in model.named_buffers() if name in state]
    return {name: state[name].detach().contiguous() for name in names}


def save_checkpoint(
    root: Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    param_names: Sequence[str],
    meta: dict[str, Any],
    keep: int,
) -> Path:
    """Write the checkpoint of ``step`` atomically, point ``latest`` at it, keep ``keep`` newest.

    ``param_names`` names the optimiser's parameters in its order (checked on loading); ``meta`` is
    stored in ``state.json`` beside the step and the optimiser's groups.
    """
    root.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(step)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    save_file(training_state(model), staging / MODEL_FILE)
    _fsync(staging / MODEL_FILE)
    tensors, groups, values = _split_optimizer_state(optimizer.state_dict())
    save_file(tensors, staging / OPTIMIZER_FILE)
    _fsync(staging / OPTIMIZER_FILE)
    state = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        **meta,
        "optimizer": {"param_names": list(param_names), "param_groups": groups, "values": values},
    }
    atomic_write_json(staging / STATE_FILE, state)
    _fsync(staging)
    final = root / name
    _publish(staging, final)
    _point_latest(root, name)
    prune_checkpoints(root, keep)
    return final


def latest_checkpoint(root: Path) -> Checkpoint | None:
    """The complete checkpoint with the highest step under ``root``, or None."""
    if not root.is_dir():
        return None
    steps = sorted(
        (int(match.group(1)), entry)
        for entry in root.iterdir()
        if (match := _STEP_DIR.match(entry.name)) and (entry / STATE_FILE).is_file()
    )
    if not steps:
        return None
    step, path = steps[-1]
    state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    if state.get("format") != CHECKPOINT_FORMAT or state.get("step") != step:
        raise CheckpointError(
            f"{path / STATE_FILE}: not a {CHECKPOINT_FORMAT} checkpoint of {step}"
        )
    return Checkpoint(path=path, step=step, state=state)


def load_checkpoint(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    param_names: Sequence[str],
) -> None:
    """Restore the trainable weights, buffers and optimiser state saved in ``checkpoint``."""
    model_file = checkpoint.path / MODEL_FILE
    saved = load_file(model_file)
    current = training_state(model)
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    if missing or unexpected:
        detail = f"missing '{missing[0]}'" if missing else f"unexpected '{unexpected[0]}'"
        raise CheckpointError(f"{model_file}: does not fit the model ({detail})")
    with torch.no_grad():
        for name, target in current.items():
            tensor = saved[name]
            if tensor.shape != target.shape:
                raise CheckpointError(
                    f"{model_file}: '{name}' has shape {tuple(tensor.shape)}, "
                    f"the model {tuple(target.shape)}"
                )
            target.copy_(tensor)
    recorded = checkpoint.state["optimizer"]
    if list(recorded["param_names"]) != list(param_names):
        raise CheckpointError(
            f"{checkpoint.path / STATE_FILE}: the optimiser's parameters differ from the model's"
        )
    tensors = load_file(checkpoint.path / OPTIMIZER_FILE)
    optimizer.load_state_dict(_join_optimizer_state(tensors, recorded))


def prune_checkpoints(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest complete checkpoints (each renamed away first)."""
    complete = sorted(
        (int(match.group(1)), entry)
        for entry in root.iterdir()
        if (match := _STEP_DIR.match(entry.name)) and (entry / STATE_FILE).is_file()
    )
    for _, path in complete[: max(len(complete) - keep, 0)]:
        _discard(path)


def remove_leftovers(root: Path) -> None:
    """Delete half-written and half-deleted checkpoint directories left by a killed process."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.name.startswith(_LEFTOVER_PREFIXES) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def _publish(staging: Path, final: Path) -> None:
    """Give the complete checkpoint its final name (one atomic rename)."""
    if final.exists():
        _discard(final)
    os.rename(staging, final)
    _fsync(final.parent)


def _point_latest(root: Path, name: str) -> None:
    atomic_write_text(root / LATEST_FILE, name + "\n")


def _discard(path: Path) -> None:
    """Remove a checkpoint directory so that no reader ever sees it half-deleted."""
    trash = Path(tempfile.mkdtemp(prefix=f".trash-{path.name}-", dir=path.parent))
    os.rename(path, trash / path.name)
    shutil.rmtree(trash)


def _fsync(path: Path) -> None:
    if path.is_dir() and os.name != "posix":
        return  # directories cannot be opened for fsync on Windows
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _split_optimizer_state(
    state_dict: dict[str, Any],
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """An optimiser ``state_dict`` as (tensors for safetensors, JSON groups, JSON other values)."""
    tensors: dict[str, torch.Tensor] = {}
    values: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().contiguous()
            else:
                values.setdefault(str(index), {})[key] = value
    groups = [
        {key: list(v) if isinstance(v, tuple) else v for key, v in group.items()}
        for group in state_dict["param_groups"]
    ]
    return tensors, groups, values


def _join_optimizer_state(tensors: dict[str, torch.Tensor], recorded: dict[str, Any]) -> dict:
    """The inverse of :func:`_split_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = tensor
    for index, entry in recorded["values"].items():
        state.setdefault(int(index), {}).update(entry)
    groups = [
        {key: tuple(v) if isinstance(v, list) and key != "params" else v for key, v in g.items()}
        for g in recorded["param_groups"]
    ]
    return {"state": state, "param_groups": groups}
