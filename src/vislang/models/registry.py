"""One place that turns a model name, a saved directory or a Hugging Face checkpoint into a model.

Every model family (dual encoders now; captioners and VLMs later) is a class registered with
:func:`register_family`. A family class offers:

- ``config_class``: the dataclass describing one model of the family; instances expose it as
  ``model.config``;
- ``from_config(config, files=None)``: a model with freshly initialised weights (seeded by the
  config), ``files`` being the directory of extra files the config refers to (a tokenizer), if any;
- ``presets()``: preset names → configs; the registry offers them as ``"<family>-<preset>"``;
- optionally ``hf_model_types`` and ``from_pretrained(path_or_id)``: the Hugging Face
  ``model_type`` values the family can load and how;
- optionally ``save_files(directory)``: writes the extra files ``from_config`` reads back.

:func:`load_model` resolves, in this order: a vislang model directory (it holds
``vislang_model.json``); a Hugging Face model directory (``config.json`` with a ``model_type``);
a preset name; a Hugging Face hub id (``organisation/name``, fetched through the Hugging Face
cache). :func:`save_model` writes a vislang model directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import safetensors.torch
import torch

import vislang
from vislang.errors import ConfigError, DataFormatError
from vislang.fileio import atomic_write_bytes, atomic_write_json

MODEL_FILE = "vislang_model.json"
WEIGHTS_FILE = "model.safetensors"
HF_CONFIG_FILE = "config.json"

_FAMILY_MODULES: tuple[str, ...] = (
    "vislang.models.dual_encoder",
    "vislang.models.causal_lm",
    "vislang.models.prefix_vlm",
    "vislang.models.flamingo",
    "vislang.models.smallcap",
)
"""Modules that define families; imported on first use so that their decorators run."""

_FAMILIES: dict[str, type] = {}

FamilyT = TypeVar("FamilyT", bound=type)


def register_family(name: str) -> Callable[[FamilyT], FamilyT]:
    """Class decorator: register a model family under ``name`` (sets ``cls.family = name``)."""

    def decorate(cls: FamilyT) -> FamilyT:
        known = _FAMILIES.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"model family {name!r} is already registered by {known.__qualname__}")
        cls.family = name
        _FAMILIES[name] = cls
        return cls

    return decorate


def families() -> dict[str, type]:
    """All registered families by name."""
    for module in _FAMILY_MODULES:
        importlib.import_module(module)
    return dict(_FAMILIES)


def preset_names() -> list[str]:
    """Every preset name ``load_model`` accepts, e.g. ``"clip-tiny"``, sorted."""
    return sorted(
        f"{name}-{preset}" for name, cls in families().items() for preset in cls.presets()
    )


def save_model(model: torch.nn.Module, out_dir: str | Path) -> Path:
    """Write ``model`` as a vislang model directory and return its path.

    Files: ``model.safetensors`` (the state dict), the family's extra files (``save_files``) and
    last ``vislang_model.json`` (``family``, ``config``, ``vislang_version``). Each file is
    written atomically, and the JSON last, so a directory that has it is complete.
    """
    family = _family_of(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    atomic_write_bytes(out / WEIGHTS_FILE, safetensors.torch.save(state, metadata={"format": "pt"}))
    save_files = getattr(model, "save_files", None)
    if save_files is not None:
        save_files(out)
    atomic_write_json(
        out / MODEL_FILE,
        {
            "family": family,
            "config": dataclasses.asdict(model.config),
            "vislang_version": vislang.__version__,
        },
    )
    return out


def load_model(name_or_dir: str | Path, **overrides: Any) -> torch.nn.Module:
    """A model from a vislang model directory, a Hugging Face directory or hub id, or a preset.

    ``overrides`` replace fields of the config (e.g. ``seed=3`` for a preset); they apply to
    presets and vislang directories, whose weights must still fit the changed config.
    Raises :class:`ConfigError` listing what was tried when nothing matches.
    """
    registered = families()
    path = Path(name_or_dir)
    if (path / MODEL_FILE).is_file():
        return _load_vislang_dir(path, overrides)
    if (path / HF_CONFIG_FILE).is_file():
        model_type = _hf_model_type_from_file(path / HF_CONFIG_FILE)
        return _load_hf(str(path), model_type, overrides)
    if path.is_dir():
        raise ConfigError(
            f"{path}: a directory without {MODEL_FILE} (a vislang model) or {HF_CONFIG_FILE} "
            "(a Hugging Face model)"
        )
    name = str(name_or_dir)
    family_name, _, preset = name.partition("-")
    cls = registered.get(family_name)
    if cls is not None and preset in cls.presets():
        config = _replace(cls.presets()[preset], overrides, where=f"preset {name!r}")
        return cls.from_config(config)
    tried = [
        f"not a directory with {MODEL_FILE} or {HF_CONFIG_FILE}",
        f"not a preset ({', '.join(preset_names())})",
    ]
    if "/" not in name:
        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"cannot load model {name!r}: " + "; ".join(tried) + f"; {hint}hub ids have the "
            "form 'organisation/name'"
        )
    model_type = _hf_model_type_from_hub(name, tried)
    return _load_hf(name, model_type, overrides)


def config_from_dict(
    config_class: type, data: Mapping[str, Any], source: str | Path, where: str = "config"
) -> Any:
    """Rebuild a config dataclass (nested dataclasses and tuples included) from its JSON form.

    Unknown or missing fields and values of the wrong type raise :class:`DataFormatError` naming
    ``source`` and the field (``where`` is the field path so far, e.g. ``config.preprocess``).
    """
    hints = typing.get_type_hints(config_class)
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DataFormatError(
            source, f"unknown field for {config_class.__name__}", field=f"{where}.{unknown[0]}"
        )
    values = {}
    for name, field in fields.items():
        if name not in data:
            required = field.default is dataclasses.MISSING
            if required and field.default_factory is dataclasses.MISSING:
                raise DataFormatError(source, "missing", field=f"{where}.{name}")
            continue
        values[name] = _from_json(hints[name], data[name], source, f"{where}.{name}")
    return config_class(**values)


def _from_json(hint: Any, value: Any, source: str | Path, where: str) -> Any:
    """One JSON value as the type a dataclass field declares, or a DataFormatError."""
    is_union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    for candidate in typing.get_args(hint) if is_union else (hint,):
        origin = typing.get_origin(candidate) or candidate
        if candidate is Any:
            return value
        if dataclasses.is_dataclass(candidate) and isinstance(value, Mapping):
            return config_from_dict(candidate, value, source, where)
        if origin is tuple and isinstance(value, list):
            return tuple(value)
        if origin is typing.Literal and value in typing.get_args(candidate):
            return value
        if candidate is type(None) and value is None:
            return value
        if candidate is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        is_bool_as_int = origin is int and isinstance(value, bool)
        if (
            origin in (int, str, bool, list, dict)
            and isinstance(value, origin)
            and not is_bool_as_int
        ):
            return value
    raise DataFormatError(source, f"expected {_describe(hint)}, got {value!r}", field=where)


def _describe(hint: Any) -> str:
    """A type hint in words: ``float or null``, ``one of 'bytes', 'checkpoint'``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    return getattr(origin or hint, "__name__", str(hint))


def _family_of(model: torch.nn.Module) -> str:
    family = getattr(type(model), "family", None)
    if family not in families() or not dataclasses.is_dataclass(getattr(model, "config", None)):
        raise ConfigError(
            f"{type(model).__name__} is not a registered model family with a dataclass config "
            f"(families: {', '.join(sorted(families()))})"
        )
    return family


def _replace(config: Any, overrides: Mapping[str, Any], where: str) -> Any:
    names = {field.name for field in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown config field(s) {', '.join(unknown)}; "
            f"{type(config).__name__} has {', '.join(sorted(names))}"
        )
    return dataclasses.replace(config, **overrides) if overrides else config


def _load_vislang_dir(path: Path, overrides: Mapping[str, Any]) -> torch.nn.Module:
    meta_path = path / MODEL_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        reason = f"not valid JSON: {error.msg}"
        raise DataFormatError(meta_path, reason, line=error.lineno) from None
    if not isinstance(meta, dict):
        raise DataFormatError(meta_path, "expected a JSON object")
    for key in ("family", "config"):
        if key not in meta:
            raise DataFormatError(meta_path, "missing", field=key)
    cls = families().get(meta["family"])
    if cls is None:
        raise DataFormatError(
            meta_path,
            f"unknown model family {meta['family']!r} (known: {', '.join(sorted(families()))})",
            field="family",
        )
    if not isinstance(meta["config"], dict):
        raise DataFormatError(meta_path, "expected a JSON object", field="config")
    config = config_from_dict(cls.config_class, meta["config"], meta_path)
    config = _replace(config, overrides, where=str(path))
    model = cls.from_config(config, files=path)
    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise DataFormatError(weights_path, "missing: a vislang model directory needs its weights")
    try:
        state = safetensors.torch.load_file(weights_path)
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise DataFormatError(weights_path, f"not a readable safetensors file ({error})") from None
    _load_state(model, state, weights_path)
    return model


def _load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` strictly; mismatches name the tensor and the shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise DataFormatError(source, f"weights do not fit the config: {detail}")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise DataFormatError(
                source,
                f"shape {tuple(tensor.shape)} does not fit the config's "
                f"{tuple(expected[key].shape)}",
                field=key,
            )
    model.load_state_dict(state, strict=True)


def _hf_model_type_from_file(config_path: Path) -> str:
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(
            config_path, f"not valid JSON: {error.msg}", line=error.lineno
        ) from None
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if not isinstance(model_type, str):
        raise DataFormatError(config_path, "missing (not a Hugging Face model)", field="model_type")
    return model_type


def _hf_model_type_from_hub(name: str, tried: list[str]) -> str:
    """The ``model_type`` of a hub checkpoint, or a ConfigError listing every attempt."""
    from transformers import PretrainedConfig

    try:
        data, _ = PretrainedConfig.get_config_dict(name)
    except Exception as error:  # network, missing repository, invalid id: all end the same way
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        tried.append(f"not loadable as a Hugging Face hub id ({reason})")
        raise ConfigError(f"cannot load model {name!r}: " + "; ".join(tried)) from None
    model_type = data.get("model_type")
    if not isinstance(model_type, str):
        tried.append("its hub config.json has no model_type")
        raise ConfigError(f"cannot load model {name!r}: " + "; ".join(tried))
    return model_type


def _load_hf(name: str, model_type: str, overrides: Mapping[str, Any]) -> torch.nn.Module:
    claims = {
        claimed: cls
        for cls in families().values()
        for claimed in getattr(cls, "hf_model_types", ())
    }
    cls = claims.get(model_type)
    if cls is None:
        raise ConfigError(
            f"{name}: Hugging Face model_type {model_type!r} is not supported "
            f"(supported: {', '.join(sorted(claims))})"
        )
    if overrides:
        raise ConfigError(
            f"{name}: config overrides ({', '.join(sorted(overrides))}) apply to presets and "
            "vislang model directories, not to Hugging Face checkpoints"
        )
    return cls.from_pretrained(name)
