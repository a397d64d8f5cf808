"""``vislang train`` as a user runs it: killed with SIGKILL and resumed, and under torchrun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from toy_train_task import write_toy_config

from shared_parts import run_to_end

pytestmark = pytest.mark.slow

TOY_DIR = Path(__file__).resolve().parent
# Dropout makes every step depend on its random seed; the delay leaves time to kill a run.
KILL_TASK = {"dropout": 0.2, "step_delay": 0.02}
KILL_TRAIN = {
    "steps": 30,
    "checkpoint_every": 5,
    "keep_checkpoints": 1,
    "eval_every": 10,
    "weight_decay": 0.1,
    "warmup_steps": 3,
}
DDP_TASK = {"step_delay": 0.02}
DDP_TRAIN = {
    "steps": 20,
    "batch_size": 16,
    "checkpoint_every": 10,
    "eval_every": 10,
    "weight_decay": 0.1,
    "grad_clip": 0.5,
    "warmup_steps": 2,
}


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOY_DIR), env.get("PYTHONPATH")]))
    return env


def vislang(*args: str | Path, torchrun: bool = False) -> subprocess.CompletedProcess[str]:
    launcher = [sys.executable, "-m", "vislang"]
    if torchrun:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", "2", "-m", "vislang"]
    return run_to_end([*launcher, *map(str, args)], env=environment(), timeout=300)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # one JSON object, printed by rank 0 only
    return json.loads(lines[0])


def log_without_times(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def assert_same_run(out: Path, reference: Path) -> None:
    """Bitwise the same exported weights, final checkpoint and (times aside) log."""
    model = "model/model.safetensors"
    assert (out / model).read_bytes() == (reference / model).read_bytes()
    for name in ("model.safetensors", "optimizer.safetensors"):
        final = f"checkpoints/step-00000030/{name}"
        assert (out / final).read_bytes() == (reference / final).read_bytes()
    assert log_without_times(out) == log_without_times(reference)


@pytest.fixture(scope="module")
def kill_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The config of the interruption tests and its uninterrupted run."""
    root = tmp_path_factory.mktemp("kill")
    config = write_toy_config(root / "toy.toml", KILL_TASK, **KILL_TRAIN)
    summary = summary_of(vislang("train", config, "--out", root / "reference", "--json"))
    assert summary["steps"] == 30 and summary["resumed_from"] is None
    return config, root / "reference"


def test_sigkill_during_training_then_resume_matches_an_uninterrupted_run(
    kill_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, reference = kill_setup
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "vislang", "train", str(config), "--out", str(out)],
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (out / "checkpoints" / "latest").exists():
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(0.15)  # into the steps after the first checkpoint
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (out / "summary.json").exists()

    summary = summary_of(vislang("train", config, "--out", out, "--resume", "--json"))
    assert 5 <= summary["resumed_from"] < 30 and summary["steps"] == 30
    assert_same_run(out, reference)


# Runs (or resumes) training and kills itself with SIGKILL at an exact point of a checkpoint save.
KILLER = """
import os, shutil, signal, sys
import vislang.train.checkpoint as checkpoint
from vislang.train import train

config, out, point, resume = sys.argv[1:]
owner = shutil if point == "rmtree" else checkpoint
original, calls = getattr(owner, point), []

def die(*args, **kwargs):
    calls.append(args)
    if point == "save_file" and len(calls) == 4:  # second checkpoint's optimiser file, half written
        original(*args, **kwargs)
        path = args[1]
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    if point == "_point_latest" and len(calls) == 2:  # second checkpoint renamed, pointer stale
        os.kill(os.getpid(), signal.SIGKILL)
    if point == "rmtree" and len(calls) == 1:  # an old checkpoint being pruned, one file gone
        next(p for p in args[0].rglob("*") if p.is_file()).unlink()
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

setattr(owner, point, die)
train(config, out, resume=resume == "resume", show_progress=False)
"""


def test_sigkill_at_each_point_of_a_checkpoint_save_then_resume(
    kill_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, reference = kill_setup
    out = tmp_path / "killed"
    checkpoints = out / "checkpoints"
    # (where the process dies, whether it resumes, the newest complete checkpoint afterwards)
    kills = [
        ("save_file", "fresh", 5),  # mid-write of step 10: only step 5 is complete
        ("_point_latest", "resume", 15),  # step 15 published, "latest" still names step 10
        ("rmtree", "resume", 20),  # steps 10 and 15 being pruned after step 20
    ]
    for point, mode, newest in kills:
        killed = subprocess.run(
            [sys.executable, "-c", KILLER, str(config), str(out), point, mode],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        complete = sorted(p.name for p in checkpoints.glob("step-*") if (p / "state.json").exists())
        assert complete[-1] == f"step-{newest:08d}", (point, complete)
        assert any(p.name.startswith(".") for p in checkpoints.iterdir()) == (
            point != "_point_latest"
        )
    summary = summary_of(vislang("train", config, "--out", out, "--resume", "--json"))
    assert summary["resumed_from"] == 20 and summary["steps"] == 30
    assert_same_run(out, reference)
    assert [p.name for p in checkpoints.iterdir() if p.name.startswith(".")] == []


@pytest.fixture(scope="module")
def ddp_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config, and its run under torchrun with two processes."""
    root = tmp_path_factory.mktemp("ddp")
    config = write_toy_config(root / "toy.toml", DDP_TASK, **DDP_TRAIN)
    summary = summary_of(vislang("train", config, "--out", root / "two", "--json", torchrun=True))
    assert summary["world_size"] == 2 and summary["steps"] == 20
    return config, root / "two"


def test_two_processes_train_the_same_model_as_one(
    ddp_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, two = ddp_setup
    summary = summary_of(vislang("train", config, "--out", tmp_path / "one", "--json"))
    assert summary["world_size"] == 1
    one_weights = load_file(tmp_path / "one" / "model" / "model.safetensors")
    two_weights = load_file(two / "model" / "model.safetensors")
    assert one_weights.keys() == two_weights.keys()
    for name, tensor in one_weights.items():
        torch.testing.assert_close(two_weights[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    one_log, two_log = log_without_times(tmp_path / "one"), log_without_times(two)
    assert [(r["kind"], r["step"]) for r in one_log] == [(r["kind"], r["step"]) for r in two_log]
    for a, b in zip(one_log, two_log, strict=True):
        for key in ("loss", "grad_norm", "eval_mse"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4), (a, b)


def test_two_processes_stop_on_a_budget_and_resume_to_the_same_weights(
    ddp_setup: tuple[Path, Path], tmp_path: Path
) -> None:
    config, two = ddp_setup
    out = tmp_path / "budget"
    budget = config.read_text().replace("[train]\n", "[train]\nmax_minutes = 0.002\n")
    budget_config = tmp_path / "budget.toml"
    budget_config.write_text(budget)
    stopped = summary_of(vislang("train", budget_config, "--out", out, "--json", torchrun=True))
    assert stopped["stopped_by"] == "max_minutes" and 0 < stopped["steps"] < 20

    resumed = summary_of(
        vislang("train", config, "--out", out, "--resume", "--json", torchrun=True)
    )
    assert resumed["resumed_from"] == stopped["steps"] and resumed["steps"] == 20
    model = "model/model.safetensors"
    assert (out / model).read_bytes() == (two / model).read_bytes()


def test_a_bad_config_ends_with_a_one_line_error(tmp_path: Path) -> None:
    config = write_toy_config(tmp_path / "bad.toml", lr=-1.0)
    result = vislang("train", config, "--out", tmp_path / "run")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())  # the terminal may wrap long lines
    assert message.startswith("error: ") and message.endswith(
        "bad.toml: train.lr: must be a positive number"
    )
    assert not (tmp_path / "run").exists()
