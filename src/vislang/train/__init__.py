"""Training: one loop for every family (single process or torchrun/DDP), checkpoints, recipes.

A family describes its training as a :class:`TrainTask` and registers it with
:func:`register_task`; :func:`train` (and ``vislang train CONFIG.toml``) runs it.
"""

from vislang.train.config import RunConfig, TrainConfig, load_run_config, parse_dataclass
from vislang.train.distributed import unwrap
from vislang.train.loop import TrainingError, train
from vislang.train.params import frozen_fingerprint, parameter_counts
from vislang.train.task import TaskContext, TrainTask, register_task, registered_tasks

__all__ = [
    "RunConfig",
    "TaskContext",
    "TrainConfig",
    "TrainTask",
    "TrainingError",
    "frozen_fingerprint",
    "load_run_config",
    "parameter_counts",
    "parse_dataclass",
    "register_task",
    "registered_tasks",
    "train",
    "unwrap",
]
