"""What a model family gives the training loop: a :class:`TrainTask`, and how the loop finds it.

A config's ``[task] name`` is either a registered name (:func:`register_task`) or an import path
``"package.module:factory"``. The factory receives a :class:`TaskContext` (the ``[task]`` options,
the seed, the global batch size) and returns a :class:`TrainTask`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.train.config import RunConfig, parse_dataclass
from vislang.train.optim import default_param_groups

T = TypeVar("T")


@dataclass(frozen=True)
class TaskContext:
    """What a task factory knows about the run it is built for."""

    name: str
    options: Mapping[str, Any]  # the [task] table without "name"
    seed: int  # [train] seed: derive every data seed from it
    batch_size: int  # global batch size; a process's shard is batch_size // world_size
    source: Path | None  # the config file, for error messages
    base_dir: Path  # relative paths in options are relative to this folder

    @property
    def where(self) -> str:
        """The config file, as error messages name it (``"config"`` when there is none)."""
        return str(self.source) if self.source is not None else "config"

    def options_as(self, cls: type[T]) -> T:
        """The ``[task]`` options as dataclass ``cls``; unknown or mistyped keys are errors."""
        return parse_dataclass(cls, self.options, where=self.where, prefix="task")

    def resolve_path(self, path: str | Path) -> Path:
        """``path`` from the options, made absolute against :attr:`base_dir`."""
        path = Path(path)
        return path if path.is_absolute() else self.base_dir / path


class TrainTask(abc.ABC):
    """One model family's training recipe, as the loop drives it.

    Steps are 0-based: ``batch(k, ...)`` is the data of the ``k``-th optimiser update. The loop
    reseeds the global random generators before every step, builds the model once on every process
    (also before loading a checkpoint), and calls :meth:`loss` under ``torch.autocast`` when the run
    uses bf16. Frozen weights are marked with ``requires_grad_(False)`` in :meth:`build_model`: only
    trainable parameters reach the optimiser and the loop checks the frozen ones never change.
    """

    #: Set to True when some trainable parameters get no gradient in a step (DDP needs to know).
    find_unused_parameters: bool = False

    @abc.abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model (the loop seeds the generators first)."""

    @abc.abstractmethod
    def batch(self, step: int, rank: int, world_size: int) -> Any:
        """Process ``rank``'s shard of the global batch of step ``step``.

        Must be a function of the task's seed and of its arguments only: this is what makes a
        resumed run see the same data. The shards of all ranks together form the same global batch
        whatever ``world_size`` is.
        """

    @abc.abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar loss of ``batch`` (mean over the shard) and metrics to log.

        ``model`` may be wrapped in DistributedDataParallel: compute everything that needs a
        gradient through ``model(...)`` (its ``forward``), which is what synchronises gradients;
        reach attributes through :func:`vislang.train.distributed.unwrap`. Metric names must not be
        ``step``, ``loss``, ``lr``, ``grad_norm``, ``seconds`` or ``kind``.
        """

    @abc.abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Metrics of the plain model (eval mode, no gradients), computed on the main process."""

    @abc.abstractmethod
    def export(self, model: nn.Module, out_dir: Path) -> None:
        """Write the trained plain model into the empty folder ``out_dir`` (its final home)."""

    def param_groups(self, model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
        """Optimiser groups of trainable parameters; each may set ``lr`` and ``weight_decay``."""
        return default_param_groups(model, weight_decay)


TaskFactory = Callable[[TaskContext], TrainTask]

# Task names usable in configs, each a factory or the "module:attribute" path of one. The families
# shipped with vislang are listed here by path, so that naming one imports only that family;
# register_task adds more at run time.
_REGISTRY: dict[str, TaskFactory | str] = {
    "lm-pretrain": "vislang.models.lm_pretrain:LMPretrainTask",
    "dual-encoder": "vislang.models.dual_encoder_task:DualEncoderTask",
    "smallcap": "vislang.models.caption_task:CaptionTask",
    "vlm": "vislang.models.vlm_task:VLMTask",
}


def register_task(name: str, factory: TaskFactory | str) -> None:
    """Make ``[task] name = "<name>"`` build tasks with ``factory`` (or ``"module:attribute"``)."""
    if ":" in name:
        raise ValueError(f"task names cannot contain ':' (that marks an import path): {name!r}")
    _REGISTRY[name] = factory


def registered_tasks() -> list[str]:
    """The registered task names, sorted."""
    return sorted(_REGISTRY)


def build_task(config: RunConfig) -> TrainTask:
    """Resolve the config's task name and build the task with the config's options."""
    where = str(config.source) if config.source is not None else "config"
    factory = _resolve_factory(config.task, where)
    context = TaskContext(
        name=config.task,
        options=dict(config.task_options),
        seed=config.train.seed,
        batch_size=config.train.batch_size,
        source=config.source,
        base_dir=config.base_dir,
    )
    task = factory(context)
    if not isinstance(task, TrainTask):
        raise ConfigError(
            f"{where}: task.name: {config.task!r} built a {type(task).__name__}, not a TrainTask"
        )
    return task


def _resolve_factory(name: str, where: str) -> TaskFactory:
    target: TaskFactory | str
    if ":" in name:
        target = name
    elif name in _REGISTRY:
        target = _REGISTRY[name]
    else:
        known = ", ".join(registered_tasks()) or "none registered"
        raise ConfigError(
            f"{where}: task.name: unknown task {name!r} (registered: {known}; or give an import "
            "path 'package.module:factory')"
        )
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"{where}: task.name: cannot import {module_name!r} for {name!r}: {error}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ConfigError(f"{where}: task.name: {module_name!r} has no callable {attribute!r}")
    return factory
