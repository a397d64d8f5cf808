"""Running one training script on several processes: torchrun's environment, DDP, collectives.

Without torchrun (no ``WORLD_SIZE`` > 1 in the environment) everything here is a no-op on one
process, so the loop has one code path. Under ``torchrun --nproc_per_node N`` the processes join a
``gloo`` group (CPU) and the model is wrapped in :class:`DistributedDataParallel`, which averages
gradients across processes during ``backward``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: ``rank`` among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    owns_group: bool = False  # whether this object initialised the process group

    @property
    def is_main(self) -> bool:
        """Whether this process writes logs, checkpoints and the exported model."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1


def env_rank() -> int:
    """This process's rank as torchrun announces it (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def init_distributed() -> Distributed:
    """Join the process group torchrun describes (gloo backend), or run alone without torchrun."""
    if dist.is_available() and dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size(), owns_group=False)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    dist.init_process_group(backend="gloo")
    return Distributed(dist.get_rank(), dist.get_world_size(), owns_group=True)


def shutdown_distributed(context: Distributed) -> None:
    """Leave the process group if :func:`init_distributed` created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, context: Distributed, find_unused_parameters: bool) -> nn.Module:
    """The model wrapped for gradient averaging across processes (unchanged on one process)."""
    if not context.active:
        return model
    return DistributedDataParallel(model, find_unused_parameters=find_unused_parameters)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a :class:`DistributedDataParallel` wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def barrier(context: Distributed) -> None:
    """Wait until every process reaches this point."""
    if context.active:
        dist.barrier()


def mean_across(values: dict[str, float], context: Distributed) -> dict[str, float]:
    """Average each value over the processes (every process must pass the same keys)."""
    if not context.active or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= context.world_size
    return {key: float(value) for key, value in zip(keys, tensor.tolist(), strict=True)}


def any_across(flag: bool, context: Distributed) -> bool:
    """Whether ``flag`` is true on at least one process (all processes get the same answer)."""
    if not context.active:
        return flag
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def replicas_agree(digest: str, context: Distributed) -> bool:
    """Whether every process computed the same ``digest`` (of its weights, say) as rank 0."""
    if not context.active:
        return True
    reference = broadcast_json(digest, context)
    return not any_across(digest != reference, context)


def broadcast_json(obj: Any, context: Distributed) -> Any:
    """Rank 0's JSON-serialisable ``obj`` on every process (as UTF-8 bytes, never pickled)."""
    if not context.active:
        return obj
    data = json.dumps(obj).encode("utf-8") if context.is_main else b""
    size = torch.tensor([len(data)], dtype=torch.int64)
    dist.broadcast(size, src=0)
    buffer = torch.zeros(int(size.item()), dtype=torch.uint8)
    if context.is_main:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return json.loads(buffer.numpy().tobytes().decode("utf-8"))
