"""Training configs: TOML → dataclasses, with errors naming the file and the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from toy_train_task import TOY_TASK

from vislang.errors import ConfigError
from vislang.train import TaskContext
from vislang.train.config import (
    RunConfig,
    TrainConfig,
    load_run_config,
    parse_dataclass,
    run_config_from_mapping,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_task_options_and_train_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[task]\nname = "{TOY_TASK}"\nhidden = 32\n\n'
        "[train]\nsteps = 100\nbatch_size = 8\nlr = 3e-4\nbetas = [0.9, 0.98]\ngrad_clip = 1\n"
        'schedule = "constant"\nbf16 = true\n',
    )
    config = load_run_config(path)
    assert config.task == TOY_TASK
    assert config.task_options == {"hidden": 32}
    assert config.source == path and config.base_dir == tmp_path
    assert config.train.betas == (0.9, 0.98)
    assert config.train.grad_clip == 1.0 and isinstance(config.train.grad_clip, float)
    assert config.train.schedule == "constant" and config.train.bf16 is True
    assert config.train.max_minutes is None and config.train.warmup_steps == 0


@pytest.mark.parametrize(
    ("train_table", "message"),
    [
        ("steps = 10\nbatch_size = 4\nlearning_rate = 0.1", "train.learning_rate: unknown key"),
        ("steps = 10", "train.batch_size: missing required key"),
        ('steps = 10\nbatch_size = "four"', "train.batch_size: expected an integer, got 'four'"),
        ("steps = 10\nbatch_size = 4\nlr = true", "train.lr: expected a number, got True"),
        ("steps = 10\nbatch_size = 4\nbetas = [0.9]", "train.betas: expected an array of 2"),
        ('steps = 10\nbatch_size = 4\nschedule = "linear"', "train.schedule: expected one of"),
        ("steps = 10\nbatch_size = 4\nlr = -1.0", "train.lr: must be a positive number"),
        ("steps = 10\nbatch_size = 4\nwarmup_steps = 11", "train.warmup_steps: must be between"),
        ("steps = 10\nbatch_size = 4\nkeep_checkpoints = 0", "train.keep_checkpoints: must be"),
    ],
)
def test_bad_train_values_name_file_and_key(tmp_path: Path, train_table: str, message: str) -> None:
    path = write(tmp_path, f'[task]\nname = "x"\n\n[train]\n{train_table}\n')
    with pytest.raises(ConfigError) as caught:
        load_run_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[task]\nname = "x"\n[train]\nsteps = = 3\n')
    with pytest.raises(ConfigError, match=r"run\.toml: invalid TOML: .*line 4"):
        load_run_config(path)


def test_missing_tables_and_unknown_tables_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run\.toml: missing table \[train\]"):
        load_run_config(write(tmp_path, '[task]\nname = "x"\n'))
    with pytest.raises(ConfigError, match="unknown table 'model'"):
        load_run_config(write(tmp_path, '[task]\nname = "x"\n[train]\nsteps=1\n[model]\n'))
    with pytest.raises(ConfigError, match=r"task\.name: expected a registered task name"):
        load_run_config(write(tmp_path, "[task]\nhidden = 3\n[train]\nsteps = 1\n"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_run_config(tmp_path / "absent.toml")


def test_written_toml_reads_back_equal(tmp_path: Path) -> None:
    config = RunConfig(
        task=TOY_TASK,
        train=TrainConfig(steps=7, batch_size=2, grad_clip=0.5, max_minutes=1.5, betas=(0.8, 0.9)),
        task_options={"hidden": 4, "name list": ["a", 'b"c'], "nested": {"depth": 2, "ok": True}},
    )
    path = write(tmp_path, config.to_toml())
    again = load_run_config(path)
    assert again.train == config.train
    assert again.task == config.task and again.task_options == config.task_options


@dataclass(frozen=True)
class _Options:
    size: int
    names: tuple[str, ...] = ()
    rate: float | None = None
    data: Path = Path("world")
    extra: dict[str, int] = field(default_factory=dict)


def test_tasks_parse_their_own_options_with_the_same_checks() -> None:
    options = parse_dataclass(
        _Options,
        {"size": 3, "names": ["a", "b"], "data": "w/train", "extra": {"k": 1}},
        where="t.toml",
        prefix="task",
    )
    assert options == _Options(size=3, names=("a", "b"), data=Path("w/train"), extra={"k": 1})
    assert options.rate is None
    with pytest.raises(ConfigError, match=r"t\.toml: task\.names\[1\]: expected a string, got 2"):
        parse_dataclass(_Options, {"size": 3, "names": ["a", 2]}, where="t.toml", prefix="task")
    with pytest.raises(
        ConfigError, match=r"t\.toml: task\.colour: unknown key \(known keys: data, extra, names"
    ):
        parse_dataclass(_Options, {"size": 3, "colour": 1}, where="t.toml", prefix="task")


def test_task_context_resolves_option_paths_against_the_config_folder(tmp_path: Path) -> None:
    path = write(tmp_path, f'[task]\nname = "{TOY_TASK}"\n[train]\nsteps = 1\nbatch_size = 2\n')
    config = load_run_config(path)
    context = TaskContext(TOY_TASK, {}, 0, 2, config.source, config.base_dir)
    assert context.resolve_path("world/train") == tmp_path / "world" / "train"
    assert context.resolve_path(tmp_path / "abs") == tmp_path / "abs"


def test_config_from_mapping_without_a_file_says_config() -> None:
    with pytest.raises(ConfigError, match=r"^config: train\.steps: must be at least 1"):
        run_config_from_mapping({"task": {"name": "x"}, "train": {"steps": 0, "batch_size": 1}})
