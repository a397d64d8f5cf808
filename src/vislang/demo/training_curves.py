"""Loss curves of training runs, read from their ``log.jsonl``, drawn with matplotlib.

A :class:`matplotlib.figure.Figure` made directly (not through ``pyplot``) renders with the Agg
backend and leaves matplotlib's global state alone: no display is needed or touched.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

from matplotlib.figure import Figure

from vislang.fileio import atomic_write_bytes


def train_records(log_file: Path) -> list[dict]:
    """The ``kind == "train"`` records of a run's log, in order."""
    lines = log_file.read_text(encoding="utf-8").splitlines()
    return [r for r in (json.loads(line) for line in lines if line.strip()) if r["kind"] == "train"]


def loss_curves(runs: Mapping[str, Path], out: Path, title: str = "training loss") -> Path:
    """One panel per run (the losses differ in scale), training loss against step; written
    atomically to ``out`` (PNG)."""
    figure = Figure(figsize=(5 * len(runs), 3.4))
    axes = figure.subplots(1, len(runs), squeeze=False)
    for axis, (label, log_file) in zip(axes[0], runs.items(), strict=True):
        records = train_records(log_file)
        axis.plot([r["step"] for r in records], [r["loss"] for r in records], color="tab:blue")
        axis.set_title(label)
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(out, buffer.getvalue())
    return out
