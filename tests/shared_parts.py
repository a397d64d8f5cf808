"""Pieces several test modules share: a one-layer dual-encoder architecture and a launcher that
runs a worker script on several CPU processes with torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SMALL_DUAL_ENCODER = {
    "vision_layers": 1,
    "text_layers": 1,
    "vision_width": 32,
    "text_width": 32,
    "vision_heads": 2,
    "text_heads": 2,
    "vision_mlp_dim": 64,
    "text_mlp_dim": 64,
    "embed_dim": 32,
    "patch_size": 16,
}
"""Architecture overrides that make any tiny dual-encoder preset train in a fraction of a second."""


def run_on_processes(worker: Path, out_dir: Path, processes: int, timeout: int) -> None:
    """Run ``worker OUT_DIR`` under ``torchrun --standalone`` (a free local port) with
    ``processes`` single-threaded processes; fail with the end of its stderr."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        str(worker),
        str(out_dir),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    assert completed.returncode == 0, completed.stderr[-4000:]
