"""The training loop every model family uses: one process, or each process under torchrun.

:func:`train` reads the config, builds the task and its model, and runs AdamW steps with warmup and
cosine decay, gradient clipping and optional bf16 autocast; it logs to ``OUT/log.jsonl``, evaluates
every ``eval_every`` steps and at the end, checkpoints every ``checkpoint_every`` steps and at the
end, and exports the final model to ``OUT/model/``. A run resumed from its newest checkpoint ends
with bitwise the same weights as an uninterrupted run (same machine, same number of processes).
"""

from __future__ import annotations

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
        run = _Run(run_config, RunPaths(Path(out_dir)), context, resume)
        summary = run.train(show_progress)
        barrier(context)  # no process leaves the group while another still talks to it
        return summary
    finally:
        shutdown_distributed(context)


class _Run:
    """One process's share of a run: checks, builds, restores, trains, evaluates, saves, exports.

    Every process builds the task, the model and the optimiser; only the main process writes files.
    """

    def __init__(self, config: RunConfig, paths: RunPaths, dist: Distributed, resume: bool):
        self.wall_start = time.monotonic()
        self.config, self.settings, self.paths, self.dist = config, config.train, paths, dist
        where = str(config.source) if config.source is not None else "config"
        if self.settings.batch_size % dist.world_size:
            raise ConfigError(
                f"{where}: train.batch_size: {self.settings.batch_size} does not split evenly "
                f"over {dist.world_size} processes"
            )
        _check_out_dir(paths, resume)
        self.checkpoint = latest_checkpoint(paths.checkpoints) if resume else None
        if resume:
            _check_resumable(config, _previous_config(paths, self.checkpoint), paths)

        seed_everything(derive_seed(self.settings.seed, "task"))
        self.task = build_task(config)
        seed_everything(derive_seed(self.settings.seed, "model"))
        self.model = self.task.build_model()
        self.model.train()
        groups = self.task.param_groups(self.model, self.settings.weight_decay)
        self.optimizer = build_optimizer(self.model, groups, self.settings)
        self.param_names = _optimizer_parameter_names(self.model, self.optimizer)
        self.trainable = [p for _, p in trainable_parameters(self.model)]
        self.frozen = frozen_fingerprint(self.model)

        # Everything is checked: only now does the run touch its folder.
        self.log = JsonlLog(paths.log)
        barrier(dist)
        if dist.is_main:
            paths.root.mkdir(parents=True, exist_ok=True)
            remove_leftovers(paths.checkpoints)
            atomic_write_text(paths.config, config.to_toml())
            self.log.rewind(self.checkpoint.step if self.checkpoint is not None else 0)
        barrier(dist)
        # A resumed run that had finished evaluates again without logging the same step twice.
        self.logged_evals = {r["step"] for r in self.log.records() if r.get("kind") == "eval"}

        self.step, self.saved_step, self.seconds_before = 0, -1, 0.0
        if self.checkpoint is not None:
            self._restore(self.checkpoint)
        self.wrapped = wrap_model(self.model, dist, self.task.find_unused_parameters)
        self.clock = time.monotonic()

    def train(self, show_progress: bool) -> dict[str, Any]:
        """Train to the last step (or the time budget), then check, save, evaluate and export."""
        settings, dist = self.settings, self.dist
        stopped_by = "steps"
        with console.progress(disable=not (show_progress and dist.is_main)) as bar:
            bar_id = bar.add_task("train", total=settings.steps, completed=self.step)
            while self.step < settings.steps:
                if self._out_of_time():
                    stopped_by = "max_minutes"
                    break
                loss, metrics, grad_norm = self._train_step()
                self.step += 1
                if _due(self.step, settings.log_every, settings.steps) or (
                    self.step == settings.steps
                ):
                    self._log_step(loss, metrics, grad_norm)
                bar.update(bar_id, advance=1, description=f"train loss {loss:.4f}")
                if _due(self.step, settings.eval_every, settings.steps):
                    self._evaluate()
                if _due(self.step, settings.checkpoint_every, settings.steps):
                    self._save_checkpoint()

        if frozen_fingerprint(self.model) != self.frozen:
            raise TrainingError(f"frozen parameters changed during training (by step {self.step})")
        if not replicas_agree(trainable_fingerprint(self.model), dist):
            raise TrainingError(f"the processes' trained weights differ after step {self.step}")
        if self.saved_step != self.step:
            self._save_checkpoint()
        final_metrics = self._evaluate()
        summary = None
        if dist.is_main:
            _export(self.task, self.model, self.paths)
            summary = self._summary(stopped_by, final_metrics)
            atomic_write_json(self.paths.summary, summary)
        return broadcast_json(summary, dist)

    def _elapsed(self) -> float:
        """Seconds of training of the whole run, across resumptions."""
        return self.seconds_before + time.monotonic() - self.clock

    def _out_of_time(self) -> bool:
        budget = self.settings.max_minutes
        return budget is not None and any_across(self._elapsed() >= budget * 60, self.dist)

    def _restore(self, checkpoint: Checkpoint) -> None:
        if checkpoint.state["frozen_fingerprint"] != self.frozen:
            raise CheckpointError(
                f"{checkpoint.path}: the frozen weights the task builds differ from the ones this "
                "run was trained with"
            )
        load_checkpoint(checkpoint, self.model, self.optimizer, self.param_names)
        self.step = self.saved_step = checkpoint.step
        self.seconds_before = float(checkpoint.state["train_seconds"])
        if self.dist.is_main:
            console.log(f"resuming {self.paths.root} from step {checkpoint.step}")
            saved_world = checkpoint.state["world_size"]
            if saved_world != self.dist.world_size:
                console.log(
                    f"the run had {saved_world} processes and now {self.dist.world_size}: same "
                    "global batch, so the weights match an uninterrupted run up to rounding only"
                )

    def _train_step(self) -> tuple[float, dict[str, float], float]:
        """Optimiser update number ``self.step`` (0-based): local loss, metrics, gradient norm."""
        settings, dist, step = self.settings, self.dist, self.step
        seed_step(settings.seed, step, dist.rank)
        set_learning_rate(self.optimizer, lr_factor(step, settings))
        batch = self.task.batch(step, dist.rank, dist.world_size)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            loss, metrics = self.task.loss(self.wrapped, batch)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TrainingError(f"{self.config.task}: loss() must return a scalar tensor")
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(
                f"the loss is {value} at step {step + 1}; lower train.lr or set train.grad_clip"
            )
        loss.backward()
        max_norm = settings.grad_clip if settings.grad_clip is not None else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.trainable, max_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value, _metrics(metrics, "loss()"), grad_norm

    def _log_step(self, loss: float, metrics: dict[str, float], grad_norm: float) -> None:
        """Log the step's loss and metrics averaged over the processes (the global batch's)."""
        averaged = mean_across({"loss": loss, **metrics}, self.dist)
        if self.dist.is_main:
            self.log.append(
                {
                    "kind": "train",
                    "step": self.step,
                    "loss": averaged.pop("loss"),
                    "lr": self.settings.lr * lr_factor(self.step - 1, self.settings),
                    "grad_norm": grad_norm,
                    "seconds": self._elapsed(),
                    **averaged,
                }
            )

    def _evaluate(self) -> dict[str, float]:
        """The task's metrics of the plain model, computed and logged by the main process."""
        metrics: dict[str, float] = {}
        if self.dist.is_main:
            self.model.eval()
            with torch.no_grad():
                metrics = _metrics(self.task.evaluate(self.model), "evaluate()")
            self.model.train()
            if self.step not in self.logged_evals:
                record = {"kind": "eval", "step": self.step, "seconds": self._elapsed()}
                self.log.append({**record, **metrics})
                self.logged_evals.add(self.step)
        barrier(self.dist)
        return metrics

    def _save_checkpoint(self) -> None:
        if self.dist.is_main:
            meta = {
                "world_size": self.dist.world_size,
                "train_seconds": self._elapsed(),
                "frozen_fingerprint": self.frozen,
                "config": self.config.to_dict(),
            }
            save_checkpoint(
                self.paths.checkpoints,
                self.step,
                self.model,
                self.optimizer,
                self.param_names,
                meta,
                keep=self.settings.keep_checkpoints,
            )
        barrier(self.dist)
        self.saved_step = self.step

    def _summary(self, stopped_by: str, final_metrics: dict[str, float]) -> dict[str, Any]:
        return {
            "task": self.config.task,
            "out_dir": str(self.paths.root),
            "model_dir": str(self.paths.model),
            "steps": self.step,
            "planned_steps": self.settings.steps,
            "stopped_by": stopped_by,
            "resumed_from": self.checkpoint.step if self.checkpoint is not None else None,
            "world_size": self.dist.world_size,
            "train_seconds": round(self._elapsed(), 3),
            "wall_seconds": round(time.monotonic() - self.wall_start, 3),
            "parameters": parameter_counts(self.model),
            "last_train": _last_train_record(self.log),
            "final_metrics": final_metrics,
        }


def _metrics(values: Mapping[str, Any], origin: str) -> dict[str, float]:
    reserved = sorted(set(values) & RESERVED_METRICS)
    if reserved:
        raise TrainingError(f"{origin} returned a metric named '{reserved[0]}', which is reserved")
    return {str(key): float(value) for key, value in values.items()}


def _due(step: int, every: int, steps: int) -> bool:
    return every > 0 and step % every == 0 and step < steps


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
        _flatten(config.to_dict()),
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
