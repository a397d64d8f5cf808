"""One rank of the distributed hard-negatives check, run by test_hard_negatives.py under torchrun.

Each rank builds the same dual-encoder task with hard negatives and the same micro model (float64,
so that sums in any order agree), wraps the model in DistributedDataParallel (gloo, CPU), takes
its own slice of a step's batch (images, captions and the foils of its images) and writes its
loss value and every parameter gradient after DDP's averaging. The test compares them with one
process on the whole batch.

Usage: python -m torch.distributed.run --standalone --nproc_per_node 2 \\
    ddp_hard_negatives_worker.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vislang.models.dual_encoder_task import DualEncoderTask
from vislang.train.config import run_config_from_mapping
from vislang.train.task import build_task

FAMILIES = ("clip-tiny", "siglip-tiny")
STEP = 1
MICRO_MODEL = {
    "vision_layers": 1,
    "text_layers": 1,
    "vision_width": 16,
    "text_width": 16,
    "vision_heads": 2,
    "text_heads": 2,
    "vision_mlp_dim": 32,
    "text_mlp_dim": 32,
    "embed_dim": 16,
    "patch_size": 16,
}


def micro_task(model: str) -> DualEncoderTask:
    """A task on a small world generated in memory, two foils per image, batches of 6 images."""
    task = {
        "name": "dual-encoder",
        "model": model,
        "scenes": 60,
        "languages": ["en", "de"],
        "eval_images": 4,
        "architecture": MICRO_MODEL,
        "hard_negatives": 2,
    }
    config = run_config_from_mapping({"task": task, "train": {"steps": 2, "batch_size": 6}})
    built = build_task(config)
    assert isinstance(built, DualEncoderTask)
    return built


def run(module: torch.nn.Module, task: DualEncoderTask, batch: dict[str, Any]) -> dict:
    """The task's loss on ``batch`` (pixels in float64) and every parameter gradient."""
    batch = {**batch, "pixels": batch["pixels"].double()}
    loss, _ = task.loss(module, batch)
    loss.backward()
    model = module.module if isinstance(module, DistributedDataParallel) else module
    result = {"loss": loss.detach()}
    for name, parameter in model.named_parameters():
        result[f"param.{name}"] = parameter.grad.detach().contiguous()
    return result


def main(out_dir: Path) -> None:
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    for model_name in FAMILIES:
        task = micro_task(model_name)
        module = DistributedDataParallel(task.build_model().double())
        result = run(module, task, task.batch(STEP, rank, size))
        safetensors.torch.save_file(result, out_dir / f"{model_name}.rank{rank}.safetensors")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
