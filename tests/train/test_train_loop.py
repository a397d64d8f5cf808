"""The training loop in one process: outputs, determinism, resume, frozen weights, budgets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from toy_train_task import TOY_TASK, ToyRegression, build_toy_task, write_toy_config

from vislang.errors import ConfigError
from vislang.train import TaskContext, TrainingError, load_run_config, register_task, train
from vislang.train.seeding import derive_seed, seed_everything

pytestmark = pytest.mark.slow


def run(
    tmp_path: Path, name: str, task: dict[str, Any] | None = None, resume: bool = False, **settings
) -> dict[str, Any]:
    config = write_toy_config(tmp_path / f"{name}.toml", task, **settings)
    return train(config, tmp_path / name, resume=resume, show_progress=False)


def weights(tmp_path: Path, name: str) -> bytes:
    return (tmp_path / name / "model" / "model.safetensors").read_bytes()


def records(tmp_path: Path, name: str, drop_seconds: bool = True) -> list[dict[str, Any]]:
    lines = (tmp_path / name / "log.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    return [{k: v for k, v in r.items() if k != "seconds" or not drop_seconds} for r in rows]


def test_a_run_learns_and_writes_log_checkpoints_model_and_summary(tmp_path: Path) -> None:
    summary = run(
        tmp_path, "run", steps=30, eval_every=10, checkpoint_every=10, warmup_steps=3, grad_clip=1.0
    )
    out = tmp_path / "run"
    log = records(tmp_path, "run", drop_seconds=False)
    train_rows = [r for r in log if r["kind"] == "train"]
    eval_rows = [r for r in log if r["kind"] == "eval"]
    assert [r["step"] for r in train_rows] == [5, 10, 15, 20, 25, 30]
    assert [r["step"] for r in eval_rows] == [10, 20, 30]
    assert set(train_rows[0]) == {"kind", "step", "loss", "lr", "grad_norm", "seconds", "mae"}
    assert train_rows[0]["lr"] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 1 / 27)))
    assert eval_rows[-1]["eval_mse"] < eval_rows[0]["eval_mse"] < 1.0
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 30 and summary["stopped_by"] == "steps"
    assert summary["final_metrics"] == {"eval_mse": eval_rows[-1]["eval_mse"]}
    assert summary["parameters"] == {"trainable": 8 * 16 + 16 + 32 + 17, "frozen": 0}
    assert summary["last_train"] == train_rows[-1]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "latest",
        "step-00000020",
        "step-00000030",
    ]
    assert (
        load_run_config(out / "config.toml").train == load_run_config(tmp_path / "run.toml").train
    )
    exported = load_file(out / "model" / "model.safetensors")
    final = load_file(out / "checkpoints" / "step-00000030" / "model.safetensors")
    assert all(torch.equal(exported[name], final[name]) for name in final)


def test_same_seed_gives_the_same_weights_and_another_seed_does_not(tmp_path: Path) -> None:
    run(tmp_path, "a", {"dropout": 0.2}, steps=10)
    run(tmp_path, "b", {"dropout": 0.2}, steps=10)
    run(tmp_path, "c", {"dropout": 0.2}, steps=10, seed=1)
    assert weights(tmp_path, "a") == weights(tmp_path, "b")
    assert weights(tmp_path, "a") != weights(tmp_path, "c")


class Crash(Exception):
    """Stands for the process dying."""


class CrashingToy(ToyRegression):
    """Dies in the middle of step 13, after checkpoints at steps 5 and 10."""

    def batch(self, step: int, rank: int, world_size: int):
        if step == 13:
            raise Crash
        return super().batch(step, rank, world_size)


def test_resume_after_a_crash_ends_with_bitwise_the_same_weights_and_log(tmp_path: Path) -> None:
    options = {"dropout": 0.3}  # every step draws dropout masks: the step seeds must match too
    settings = {"steps": 20, "checkpoint_every": 5, "eval_every": 4, "weight_decay": 0.1}
    run(tmp_path, "whole", options, **settings)
    register_task("toy-resume", CrashingToy)
    config = tmp_path / "crash.toml"
    write_toy_config(config, options, **settings)
    config.write_text(config.read_text().replace(TOY_TASK, "toy-resume"))
    with pytest.raises(Crash):
        train(config, tmp_path / "crash", show_progress=False)
    assert (tmp_path / "crash" / "checkpoints" / "latest").read_text() == "step-00000010\n"

    register_task("toy-resume", build_toy_task)
    summary = train(config, tmp_path / "crash", resume=True, show_progress=False)
    assert summary["resumed_from"] == 10 and summary["steps"] == 20
    assert weights(tmp_path, "crash") == weights(tmp_path, "whole")
    assert records(tmp_path, "crash") == records(tmp_path, "whole")


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path: Path) -> None:
    run(tmp_path, "run", steps=2)
    with pytest.raises(ConfigError, match=r"already holds a training run .*--resume"):
        run(tmp_path, "run", steps=2)


def test_resume_refuses_a_changed_config_but_allows_bookkeeping_keys(tmp_path: Path) -> None:
    run(tmp_path, "run", steps=6, checkpoint_every=3)
    with pytest.raises(ConfigError, match=r"train\.lr: 0\.01 -> 0\.02"):
        run(tmp_path, "run", resume=True, steps=6, checkpoint_every=3, lr=0.02)
    with pytest.raises(ConfigError, match=r"task\.hidden: '\(absent\)' -> 4"):
        run(tmp_path, "run", {"hidden": 4}, resume=True, steps=6, checkpoint_every=3)
    before = records(tmp_path, "run")
    summary = run(tmp_path, "run", resume=True, steps=6, checkpoint_every=2, log_every=1)
    assert summary["resumed_from"] == 6 and summary["steps"] == 6  # finished: nothing to train
    assert records(tmp_path, "run") == before  # the final evaluation is not logged twice
    assert "log_every = 1" in (tmp_path / "run" / "config.toml").read_text()


def test_resume_before_the_first_checkpoint_starts_over(tmp_path: Path) -> None:
    run(tmp_path, "whole", steps=8)
    out = tmp_path / "early"
    out.mkdir()
    (out / "log.jsonl").write_text('{"kind": "train", "step": 2, "loss": 9.0}\n{"kind": "tr')
    summary = run(tmp_path, "early", resume=True, steps=8)
    assert summary["resumed_from"] is None
    assert weights(tmp_path, "early") == weights(tmp_path, "whole")
    assert records(tmp_path, "early") == records(tmp_path, "whole")


class TamperingToy(ToyRegression):
    """Changes a frozen weight behind the optimiser's back."""

    def loss(self, model, batch):
        with torch.no_grad():
            model[0].weight[0, 0] += 1.0
        return super().loss(model, batch)


def test_frozen_weights_stay_and_a_change_to_them_is_caught(tmp_path: Path) -> None:
    summary = run(tmp_path, "frozen", {"frozen_input": True}, steps=5)
    assert summary["parameters"]["frozen"] == 8 * 8 + 8
    context = TaskContext(TOY_TASK, {"frozen_input": True}, 0, 16, None, tmp_path)
    exported = load_file(tmp_path / "frozen" / "model" / "model.safetensors")
    seed_everything(derive_seed(0, "model"))  # as the loop seeds before build_model
    initial = build_toy_task(context).build_model()
    assert torch.equal(exported["0.weight"], initial[0].weight)  # frozen: unchanged
    assert not torch.equal(exported["1.weight"], initial[1].weight)  # trained

    register_task("toy-tamper", TamperingToy)
    config = write_toy_config(tmp_path / "tamper.toml", {"frozen_input": True}, steps=3)
    config.write_text(config.read_text().replace(TOY_TASK, "toy-tamper"))
    with pytest.raises(TrainingError, match="frozen parameters changed"):
        train(config, tmp_path / "tamper", show_progress=False)


def test_bf16_autocast_changes_the_arithmetic_and_still_learns(tmp_path: Path) -> None:
    fp32 = run(tmp_path, "fp32", steps=20)
    bf16 = run(tmp_path, "bf16", steps=20, bf16=True, eval_every=2)
    assert weights(tmp_path, "fp32") != weights(tmp_path, "bf16")
    evals = [r["eval_mse"] for r in records(tmp_path, "bf16") if r["kind"] == "eval"]
    assert evals[-1] < evals[0]
    assert bf16["final_metrics"]["eval_mse"] == pytest.approx(
        fp32["final_metrics"]["eval_mse"], rel=0.2
    )


def test_time_budget_stops_early_and_a_larger_budget_finishes_the_same_run(
    tmp_path: Path,
) -> None:
    run(tmp_path, "whole", {"step_delay": 0.01}, steps=12, checkpoint_every=4)
    stopped = run(tmp_path, "budget", {"step_delay": 0.01}, steps=12, max_minutes=0.05 / 60)
    assert stopped["stopped_by"] == "max_minutes" and stopped["steps"] < 12
    finished = run(
        tmp_path, "budget", {"step_delay": 0.01}, resume=True, steps=12, max_minutes=10.0
    )
    assert finished["resumed_from"] == stopped["steps"] and finished["steps"] == 12
    assert weights(tmp_path, "budget") == weights(tmp_path, "whole")


class NaNToy(ToyRegression):
    def loss(self, model, batch):
        loss, metrics = super().loss(model, batch)
        return loss * float("nan"), metrics


class ReservedMetricToy(ToyRegression):
    def evaluate(self, model):
        return {"step": 1.0}


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (NaNToy, "the loss is nan at step 1"),
        (ReservedMetricToy, "evaluate\\(\\) returned a metric named 'step', which is reserved"),
    ],
)
def test_broken_tasks_stop_with_a_clear_error(tmp_path: Path, factory, message: str) -> None:
    register_task("toy-broken", factory)
    config = write_toy_config(tmp_path / "broken.toml", steps=2)
    config.write_text(config.read_text().replace(TOY_TASK, "toy-broken"))
    with pytest.raises(TrainingError, match=message):
        train(config, tmp_path / "broken", show_progress=False)


def test_unknown_task_names_list_the_registered_ones(tmp_path: Path) -> None:
    register_task("toy-listed", build_toy_task)
    config = write_toy_config(tmp_path / "bad.toml")
    config.write_text(config.read_text().replace(TOY_TASK, "nonexistent"))
    with pytest.raises(ConfigError, match=r"bad\.toml: task\.name: unknown task .*toy-listed"):
        train(config, tmp_path / "bad", show_progress=False)
    config.write_text(config.read_text().replace("nonexistent", "no_such_module:factory"))
    with pytest.raises(ConfigError, match="cannot import 'no_such_module'"):
        train(config, tmp_path / "bad", show_progress=False)
    config.write_text(config.read_text().replace("no_such_module", "toy_train_task"))
    with pytest.raises(ConfigError, match="'toy_train_task' has no callable 'factory'"):
        train(config, tmp_path / "bad", show_progress=False)
    config.write_text(config.read_text().replace("toy_train_task:factory", TOY_TASK))
    config.write_text(config.read_text().replace("[train]", "colour = 3\n\n[train]"))
    with pytest.raises(ConfigError, match=r"bad\.toml: task\.colour: unknown key"):
        train(config, tmp_path / "bad", show_progress=False)
    assert not (tmp_path / "bad").exists()  # a config that fails leaves no run behind


def test_a_name_registered_by_import_path_trains_like_the_path(tmp_path: Path) -> None:
    register_task("toy-by-path", TOY_TASK)
    run(tmp_path, "by-path", steps=4)
    config = write_toy_config(tmp_path / "named.toml", steps=4)
    config.write_text(config.read_text().replace(TOY_TASK, "toy-by-path"))
    summary = train(config, tmp_path / "named", show_progress=False)
    assert summary["task"] == "toy-by-path"
    assert weights(tmp_path, "named") == weights(tmp_path, "by-path")
