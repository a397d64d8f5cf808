"""Training configs: dataclasses read from a TOML file with a ``[task]`` and a ``[train]`` table.

Every value is checked against its dataclass field's type; an unknown key, a missing key or a value
of the wrong type is a :class:`~vislang.errors.ConfigError` that names the file and the dotted key
(``run.toml: train.lr: expected a number, got 'fast'``). Tasks validate their own ``[task]`` keys
with the same machinery (:func:`parse_dataclass`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from vislang.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

T = TypeVar("T")

# [train] keys that may change between a run and its resumption: they do not change the weights.
RESUMABLE_TRAIN_KEYS = frozenset(
    {"eval_every", "checkpoint_every", "keep_checkpoints", "log_every", "max_minutes"}
)


@dataclass(frozen=True)
class TrainConfig:
    """The ``[train]`` table: optimisation, schedule, precision and bookkeeping of one run.

    ``batch_size`` is the global batch (split evenly over the processes under torchrun).
    ``grad_clip`` and ``max_minutes`` are off when absent. ``eval_every``, ``checkpoint_every`` and
    ``log_every`` count optimiser steps; 0 means "only at the end". ``max_minutes`` stops training
    once the run has used that much wall time, which makes the final step depend on the machine.
    """

    steps: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.0
    grad_clip: float | None = None
    bf16: bool = False
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    log_every: int = 10
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        _require(self.steps >= 1, "steps", "must be at least 1")
        _require(self.batch_size >= 1, "batch_size", "must be at least 1")
        _require(self.lr > 0 and math.isfinite(self.lr), "lr", "must be a positive number")
        _require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        _require(all(0 <= b < 1 for b in self.betas), "betas", "both must be in [0, 1)")
        _require(self.eps > 0, "eps", "must be > 0")
        _require(
            0 <= self.warmup_steps <= self.steps, "warmup_steps", "must be between 0 and steps"
        )
        _require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "must be between 0 and 1")
        _require(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "must be > 0")
        for key in ("eval_every", "checkpoint_every", "log_every"):
            _require(getattr(self, key) >= 0, key, "must be >= 0 (0: only at the end)")
        _require(self.keep_checkpoints >= 1, "keep_checkpoints", "must be at least 1")
        _require(self.max_minutes is None or self.max_minutes > 0, "max_minutes", "must be > 0")


@dataclass(frozen=True)
class RunConfig:
    """A whole training config: which task (with its own options) and how to train it.

    ``source`` is the TOML file it was read from, if any: tasks resolve relative paths in their
    options against its folder.
    """

    task: str
    train: TrainConfig
    task_options: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are resolved against."""
        return self.source.parent if self.source is not None else Path.cwd()

    def to_dict(self) -> dict[str, Any]:
        """The config as the TOML tables it is written as, in plain JSON types.

        Absent optional values are left out, tuples become lists and paths strings.
        """
        tables = {
            "task": {"name": self.task, **self.task_options},
            "train": dataclasses.asdict(self.train),
        }
        return _plain(tables)

    def to_toml(self) -> str:
        """The config as TOML text; reading it back gives an equal config."""
        return dumps_toml(self.to_dict())


def load_run_config(path: str | Path) -> RunConfig:
    """Read a training config from a TOML file; errors name the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config: {error}") from None
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    return run_config_from_mapping(tables, source=path)


def run_config_from_mapping(tables: Mapping[str, Any], source: Path | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from parsed TOML tables (``task`` and ``train``)."""
    where = str(source) if source is not None else "config"
    unknown = sorted(set(tables) - {"task", "train"})
    if unknown:
        raise ConfigError(f"{where}: unknown table '{unknown[0]}' (expected 'task' and 'train')")
    for table in ("task", "train"):
        if not isinstance(tables.get(table), Mapping):
            raise ConfigError(f"{where}: missing table [{table}]")
    task_table = dict(tables["task"])
    name = task_table.pop("name", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{where}: task.name: expected a registered task name or 'package.module:factory'"
        )
    train = parse_dataclass(TrainConfig, tables["train"], where=where, prefix="train")
    return RunConfig(task=name, train=train, task_options=task_table, source=source)


def parse_dataclass(cls: type[T], values: Mapping[str, Any], *, where: str, prefix: str) -> T:
    """Build dataclass ``cls`` from a TOML table, checking keys and types.

    ``where`` names the file and ``prefix`` the table (``"task"``) in error messages. Unknown keys,
    missing required keys and values of the wrong type raise :class:`ConfigError`; so does a
    :class:`ConfigError` or :class:`ValueError` raised by the dataclass's ``__post_init__`` (its
    message should start with the offending key).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{where}: {prefix}.{unknown[0]}: unknown key (known keys: {known})")
    kwargs: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in values:
            kwargs[name] = _coerce(values[name], hints[name], where, f"{prefix}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: {prefix}.{name}: missing required key")
    try:
        return cls(**kwargs)
    except (ConfigError, ValueError) as error:
        raise ConfigError(f"{where}: {prefix}.{error}") from None


def dumps_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """Write tables of scalars, arrays and nested tables as TOML (checked by reading it back)."""
    lines: list[str] = []

    def write_table(name: str, table: Mapping[str, Any]) -> None:
        lines.append(f"[{name}]")
        nested = []
        for key, value in table.items():
            if isinstance(value, Mapping):
                nested.append((key, value))
            elif value is not None:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        lines.append("")
        for key, value in nested:
            write_table(f"{name}.{_toml_key(key)}", value)

    for name, table in tables.items():
        write_table(_toml_key(name), table)
    text = "\n".join(lines)
    if tomllib.loads(text) != _plain(tables):
        raise ConfigError(f"cannot write this config as TOML: {dict(tables)!r}")
    return text


def _require(condition: bool, key: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {problem}")


def _coerce(value: Any, hint: Any, where: str, key: str) -> Any:
    """Check ``value`` (from TOML) against type ``hint``; returns it converted (list → tuple)."""

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"{where}: {key}: expected {expected}, got {value!r}")

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"unsupported config type {hint!r} for {key}")
        return _coerce(value, options[0], where, key)
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if hint is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    if hint is Path:
        if not isinstance(value, str):
            fail("a path (string)")
        return Path(value)
    if origin in (tuple, list):
        if not isinstance(value, list):
            fail("an array")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                fail(f"an array of {len(args)} values")
            return tuple(
                _coerce(v, a, where, f"{key}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        item = args[0] if args else Any
        items = [_coerce(v, item, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            fail("a table")
        return dict(value)
    raise TypeError(f"unsupported config type {hint!r} for {key}")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ConfigError("cannot write NaN in a config")
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


def _plain(value: Any) -> Any:
    """``value`` in JSON's types: mappings without None values, lists, strings for paths."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
