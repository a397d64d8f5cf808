"""The training loop every model family uses: one process, or each process under torchrun.

:func:`train` reads the config, builds the task and its model, and runs AdamW steps with warmup and
cosine decay, gradient clipping and optional bf16 autocast; it logs to ``OUT/log.jsonl``, evaluates
every ``eval_every`` steps and at the end, checkpoints every ``checkpoint_every`` steps and at the
end, and exports the final model to ``OUT/model/``. A run resumed from its newest checkpoint ends
with bitwise the same weights as an uninterrupted run (same machine, same number of processes).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vislang import console
from vislang.errors import ConfigError, VislangError
from vislang.fileio import atomic_write_json, atomic_write_text
from vislang.train.checkpoint import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    remove_leftovers,
    save_checkpoint,
)
from vislang.train.config import RESUMABLE_TRAIN_KEYS, RunConfig, load_run_config
from vislang.train.distributed import (
    Distributed,
    any_across,
    barrier,
    broadcast_json,
    init_distributed,
    mean_across,
    replicas_agree,
    shutdown_distributed,
    wrap_model,
)
from vislang.train.log import JsonlLog
from vislang.train.optim import build_optimizer, lr_factor, set_learning_rate
from vislang.train.params import (
    frozen_fingerprint,
    parameter_counts,
    trainable_fingerprint,
    trainable_parameters,
)
from vislang.train.seeding import derive_seed, seed_everything, seed_step
from vislang.train.task import TrainTask, build_task

RESERVED_METRICS = frozenset({"kind", "step", "loss", "lr", "grad_norm", "seconds"})


class TrainingError(VislangError):
    """Training cannot go on: a non-finite loss, or frozen weights that changed."""


@dataclass(frozen=True)
class RunPaths:
    """Where a run keeps its files."""

    root: Path

    @property
    def config(self) -> Path:
        """The run's resolved config (``config.toml``)."""
        return self.root / "config.toml"

    @property
    def log(self) -> Path:
        """The JSONL log of training steps and evaluations."""
        return self.root / "log.jsonl"

    @property
    def checkpoints(self) -> Path:
        """The folder of checkpoint directories."""
        return self.root / "checkpoints"

    @property
    def model(self) -> Path:
        """The exported final model."""
        return self.root / "model"

    @property
    def summary(self) -> Path:
        """Final metrics, steps, times and parameter counts (``summary.json``)."""
        return self.root / "summary.json"


def train(
    config: RunConfig | str | Path,
    out_dir: str | Path,
    resume: bool = False,
    *,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train the config's task into ``out_dir`` and return the run's summary.

    ``config`` is a TOML path or a :class:`RunConfig`. Without ``resume`` the folder must not hold
    a run yet; with it, training continues from the newest complete checkpoint (or from the start
    when there is none), provided the config changed only in bookkeeping keys. Under torchrun every
    process calls this and gets the same summary.
    """
    run_config = config if isinstance(config, RunConfig) else load_run_config(config)
    context = init_distributed()
    try:
        return _run(run_config, RunPaths(Path(out_dir)), context, resume, show_progress)
    finally:
        shutdown_distributed(context)


def _run(
    config: RunConfig,
    paths: RunPaths,
    dist: Distributed,
    resume: bool,
    show_progress: bool,
) -> dict[str, Any]:
    wall_start = time.monotonic()
    settings = config.train
    where = str(config.source) if config.source is not None else "config"
    if settings.batch_size % dist.world_size:
        raise ConfigError(
            f"{where}: train.batch_size: {settings.batch_size} does not split evenly over "
            f"{dist.world_size} processes"
        )
    _check_out_dir(paths, resume)
    checkpoint = latest_checkpoint(paths.checkpoints) if resume else None
    if resume:
        _check_resumable(config, _previous_config(paths, checkpoint), paths)
    seed_everything(derive_seed(settings.seed, "task"))
    task = build_task(config)
    seed_everything(derive_seed(settings.seed, "model"))
    model = task.build_model()
    model.train()
    optimizer = build_optimizer(model, task.param_groups(model, settings.weight_decay), settings)
    param_names = _optimizer_parameter_names(model, optimizer)
    frozen_before = frozen_fingerprint(model)

    # Everything is checked: only now does the run touch its folder.
    barrier(dist)
    log = JsonlLog(paths.log)
    if dist.is_main:
        paths.root.mkdir(parents=True, exist_ok=True)
        remove_leftovers(paths.checkpoints)
        atomic_write_text(paths.config, config.to_toml())
        log.rewind(checkpoint.step if checkpoint is not None else 0)
        if resume:
            at = (
                f"step {checkpoint.step}" if checkpoint is not None else "the start (no checkpoint)"
            )
            console.log(f"resuming {paths.root} from {at}")
    barrier(dist)
    step, seconds_before = 0, 0.0
    if checkpoint is not None:
        _restore(checkpoint, model, optimizer, param_names, frozen_before, dist)
        step, seconds_before = checkpoint.step, float(checkpoint.state["train_seconds"])
    saved_step = step if checkpoint is not None else None
    wrapped = wrap_model(model, dist, task.find_unused_parameters)
    trainable = [p for _, p in trainable_parameters(model)]
    clock = time.monotonic()

    def elapsed() -> float:
        return seconds_before + time.monotonic() - clock

    def checkpoint_now() -> None:
        if dist.is_main:
            meta = {
                "world_size": dist.world_size,
                "train_seconds": elapsed(),
                "frozen_fingerprint": frozen_before,
                "config": config.to_dict(),
            }
            save_checkpoint(
                paths.checkpoints, step, model, optimizer, param_names, meta,
                keep=settings.keep_checkpoints,
            )  # fmt: skip
        barrier(dist)

    # A resumed run that had already finished re-evaluates without logging the same step twice.
    logged_evals = {r["step"] for r in log.records() if r.get("kind") == "eval"}

    def evaluate_now() -> dict[str, float]:
        metrics = _evaluate(task, model, dist)
        if dist.is_main and step not in logged_evals:
            log.append({"kind": "eval", "step": step, "seconds": elapsed(), **metrics})
            logged_evals.add(step)
        return metrics

    stopped_by = "steps"
    with console.progress(disable=not (show_progress and dist.is_main)) as bar:
        bar_id = bar.add_task("train", total=settings.steps, completed=step)
        while step < settings.steps:
            if settings.max_minutes is not None and any_across(
                elapsed() >= settings.max_minutes * 60, dist
            ):
                stopped_by = "max_minutes"
                break
            loss, metrics, grad_norm = _step(
                task, wrapped, optimizer, trainable, step, config, dist
            )
            step += 1
            if _due(step, settings.log_every, settings.steps) or step == settings.steps:
                averaged = mean_across({"loss": loss, **metrics}, dist)
                record = {
                    "kind": "train",
                    "step": step,
                    "loss": averaged.pop("loss"),
                    "lr": settings.lr * lr_factor(step - 1, settings),
                    "grad_norm": grad_norm,
                    "seconds": elapsed(),
                    **averaged,
                }
                if dist.is_main:
                    log.append(record)
            bar.update(bar_id, advance=1, description=f"train loss {loss:.4f}")
            if _due(step, settings.eval_every, settings.steps):
                evaluate_now()
            if _due(step, settings.checkpoint_every, settings.steps):
                checkpoint_now()
                saved_step = step

    if frozen_fingerprint(model) != frozen_before:
        raise TrainingError(f"frozen parameters changed during training (by step {step})")
    if not replicas_agree(trainable_fingerprint(model), dist):
        raise TrainingError(f"the processes' trained weights differ after step {step}")
    if saved_step != step:
        checkpoint_now()
    final_metrics = evaluate_now()
    summary = None
    if dist.is_main:
        _export(task, model, paths)
        summary = {
            "task": config.task,
            "out_dir": str(paths.root),
            "model_dir": str(paths.model),
            "steps": step,
            "planned_steps": settings.steps,
            "stopped_by": stopped_by,
            "resumed_from": checkpoint.step if checkpoint is not None else None,
            "world_size": dist.world_size,
            "train_seconds": round(elapsed(), 3),
            "wall_seconds": round(time.monotonic() - wall_start, 3),
            "parameters": parameter_counts(model),
            "last_train": _last_train_record(log),
            "final_metrics": final_metrics,
        }
        atomic_write_json(paths.summary, summary)
    return broadcast_json(summary, dist)


def _step(
    task: TrainTask,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    trainable: list[nn.Parameter],
    step: int,
    config: RunConfig,
    dist: Distributed,
) -> tuple[float, dict[str, float], float]:
    """One optimiser update (0-based ``step``): the local loss, metrics and gradient norm."""
    settings = config.train
    seed_step(settings.seed, step, dist.rank)
    set_learning_rate(optimizer, lr_factor(step, settings))
    batch = task.batch(step, dist.rank, dist.world_size)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
        loss, metrics = task.loss(model, batch)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise TrainingError(f"{config.task}: loss() must return a scalar tensor as its loss")
    value = float(loss.detach())
    if not math.isfinite(value):
        raise TrainingError(
            f"the loss is {value} at step {step + 1}; lower train.lr or set train.grad_clip"
        )
    loss.backward()
    max_norm = settings.grad_clip if settings.grad_clip is not None else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, max_norm))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return value, _metrics(metrics, "loss()"), grad_norm


def _evaluate(task: TrainTask, model: nn.Module, dist: Distributed) -> dict[str, float]:
    """The task's metrics of the plain model, computed on the main process (others wait)."""
    metrics: dict[str, float] = {}
    if dist.is_main:
        model.eval()
        with torch.no_grad():
            metrics = _metrics(task.evaluate(model), "evaluate()")
        model.train()
    barrier(dist)
    return metrics


def _metrics(values: Mapping[str, Any], origin: str) -> dict[str, float]:
    reserved = sorted(set(values) & RESERVED_METRICS)
    if reserved:
        raise TrainingError(f"{origin} returned a metric named '{reserved[0]}', which is reserved")
    return {str(key): float(value) for key, value in values.items()}


def _due(step: int, every: int, steps: int) -> bool:
    return every > 0 and step % every == 0 and step < steps


def _restore(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    param_names: list[str],
    frozen: str,
    dist: Distributed,
) -> None:
    if checkpoint.state["frozen_fingerprint"] != frozen:
        raise CheckpointError(
            f"{checkpoint.path}: the frozen weights the task builds differ from the ones this run "
            "was trained with"
        )
    load_checkpoint(checkpoint, model, optimizer, param_names)
    saved_world = checkpoint.state["world_size"]
    if saved_world != dist.world_size and dist.is_main:
        console.log(
            f"resuming a {saved_world}-process run on {dist.world_size}: the global batch is the "
            "same, the weights match an uninterrupted run only up to rounding"
        )


def _optimizer_parameter_names(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    names = {id(p): name for name, p in model.named_parameters()}
    return [names[id(p)] for group in optimizer.param_groups for p in group["params"]]


def _check_out_dir(paths: RunPaths, resume: bool) -> None:
    if paths.root.exists() and not paths.root.is_dir():
        raise ConfigError(f"{paths.root}: exists and is not a folder")
    if resume:
        return
    markers = (paths.config, paths.log, paths.checkpoints, paths.model, paths.summary)
    existing = [marker.name for marker in markers if marker.exists()]
    if existing:
        raise ConfigError(
            f"{paths.root}: already holds a training run ({existing[0]}); pass --resume to "
            "continue it, or choose another output folder"
        )


def _previous_config(paths: RunPaths, checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    if checkpoint is not None:
        return checkpoint.state["config"]
    if paths.config.is_file():
        return load_run_config(paths.config).to_dict()
    return None


def _check_resumable(
    config: RunConfig, previous: Mapping[str, Any] | None, paths: RunPaths
) -> None:
    """Refuse to resume when anything but bookkeeping keys changed since the run started."""
    if previous is None:
        return
    before, now = (
        _flatten(previous),
        _flatten(json.loads(json.dumps(config.to_dict(), default=str))),
    )
    allowed = {f"train.{key}" for key in RESUMABLE_TRAIN_KEYS}
    changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    changed = [key for key in changed if key not in allowed]
    if changed:
        details = "; ".join(
            f"{key}: {before.get(key, '(absent)')!r} -> {now.get(key, '(absent)')!r}"
            for key in changed
        )
        raise ConfigError(
            f"cannot resume {paths.root}: the config changed since the run started ({details}); "
            f"only {', '.join(sorted(allowed))} may change. Restore the config or train into "
            "another output folder"
        )


def _flatten(tables: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tables.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _export(task: TrainTask, model: nn.Module, paths: RunPaths) -> None:
    """Let the task write the final model into a fresh folder, then move it to ``OUT/model``."""
    staging = Path(tempfile.mkdtemp(prefix=".model.tmp-", dir=paths.root))
    try:
        task.export(model, staging)
        if paths.model.exists():
            trash = Path(tempfile.mkdtemp(prefix=".model.trash-", dir=paths.root))
            paths.model.rename(trash / "model")
            shutil.rmtree(trash)
        staging.rename(paths.model)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _last_train_record(log: JsonlLog) -> dict[str, Any] | None:
    records = [r for r in log.records() if r.get("kind") == "train"]
    return records[-1] if records else None
