"""The reader registry and :func:`read_dataset`, the one entry point for reading any dataset.

A reader is a function ``read(path, ctx, **options) -> list[Record]`` registered under a format
name with :func:`register_reader`; it carries the :class:`DatasetCard` of the dataset it reads.
:func:`read_dataset` resolves ``"FORMAT:PATH"``, calls the reader, filters the records by kind,
split and language, and applies the missing-image policy.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vislang.console import progress
from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import (
    Dataset,
    MissingImage,
    ReadContext,
    record_images,
)
from vislang.data.schema import Record
from vislang.errors import ConfigError, DataFormatError

MissingImagePolicy = Literal["report", "skip", "fail"]
BadItemPolicy = Literal["fail", "skip"]

ReadFunction = Callable[..., list[Record]]

_PROGRESS_FROM = 20_000  # images to check before a progress bar is worth showing


class MissingImageError(DataFormatError):
    """A record refers to an image file that does not exist (policy ``on_missing_image="fail"``)."""


@dataclass(frozen=True)
class Reader:
    """A registered reader: its function, the card of its dataset and how to call it."""

    name: str
    read: ReadFunction
    card: DatasetCard
    layout: str
    kinds: tuple[type, ...]
    options: Mapping[str, str]

    def option_defaults(self) -> dict[str, Any]:
        """Each option's default value."""
        parameters = inspect.signature(self.read).parameters
        return {name: parameters[name].default for name in self.options}


_READERS: dict[str, Reader] = {}


def register_reader(
    name: str,
    *,
    card: DatasetCard,
    layout: str,
    kinds: tuple[type, ...],
    options: Mapping[str, str] | None = None,
) -> Callable[[ReadFunction], ReadFunction]:
    """Register ``read(path, ctx, **options)`` as the reader of format ``name``.

    ``layout`` says what PATH must be; ``kinds`` lists the record types produced; ``options`` maps
    each keyword-only option of the function to a one-line help text.
    """
    options = dict(options or {})

    def decorate(read: ReadFunction) -> ReadFunction:
        if name in _READERS:
            raise ValueError(f"a reader named {name!r} is already registered")
        keyword_only = {
            p.name
            for p in inspect.signature(read).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        if keyword_only != set(options):
            raise ValueError(
                f"reader {name!r}: options {sorted(options)} must document exactly its "
                f"keyword-only parameters {sorted(keyword_only)}"
            )
        _READERS[name] = Reader(name, read, card, layout, kinds, options)
        return read

    return decorate


def list_readers() -> list[Reader]:
    """Every registered reader, sorted by name."""
    return [_READERS[name] for name in sorted(_READERS)]


def get_reader(name: str) -> Reader:
    """The reader of format ``name``; raises :class:`ConfigError` listing the known formats."""
    try:
        return _READERS[name]
    except KeyError:
        known = ", ".join(sorted(_READERS))
        raise ConfigError(f"unknown dataset format {name!r}; known formats: {known}") from None


def parse_spec(spec: str) -> tuple[Reader, Path]:
    """Split ``"FORMAT:PATH"`` into its reader and path."""
    name, sep, path = spec.partition(":")
    if not sep or not path:
        raise ConfigError(f"dataset spec {spec!r} must look like FORMAT:PATH, e.g. coco:data/coco")
    return get_reader(name), Path(path)


def read_dataset(
    spec: str,
    *,
    kinds: tuple[type, ...] | None = None,
    split: str | None = None,
    languages: Sequence[str] | None = None,
    on_missing_image: MissingImagePolicy = "report",
    on_bad_item: BadItemPolicy = "fail",
    **options: Any,
) -> Dataset:
    """Read the dataset ``spec`` = ``"FORMAT:PATH"`` into schema records.

    ``kinds``, ``split`` and ``languages`` keep only the matching records (records without a split,
    such as attribute tables, are kept only when no split is asked for). Missing image files are
    listed in ``Dataset.missing_images`` and, by ``on_missing_image``: kept (``"report"``), dropped
    (``"skip"``) or fatal (``"fail"``). A malformed item raises :class:`DataFormatError` unless
    ``on_bad_item="skip"``, which lists it in ``Dataset.skipped``. Other keyword arguments are the
    reader's own options (``vislang data formats`` lists them).
    """
    reader, path = parse_spec(spec)
    if on_missing_image not in ("report", "skip", "fail"):
        raise ConfigError(
            f"on_missing_image must be report, skip or fail, not {on_missing_image!r}"
        )
    if on_bad_item not in ("fail", "skip"):
        raise ConfigError(f"on_bad_item must be fail or skip, not {on_bad_item!r}")
    unknown = sorted(set(options) - set(reader.options))
    if unknown:
        known = ", ".join(sorted(reader.options)) or "none"
        raise ConfigError(f"format {reader.name!r} has no option {unknown[0]!r} (options: {known})")
    if not path.exists():
        raise DataFormatError(path, "no such file or folder")

    ctx = ReadContext(on_bad_item=on_bad_item)
    records = reader.read(path, ctx, **options)
    records = _select(records, kinds, split, languages)
    missing = _missing_images(records)
    if missing and on_missing_image == "fail":
        first = missing[0]
        raise MissingImageError(
            first.path,
            f"image file not found (record {first.record_id}; {len(missing)} missing in all)",
        )
    if missing and on_missing_image == "skip":
        lacking = {m.record_id for m in missing}
        records = [r for r in records if r.id not in lacking]
    return Dataset(
        records=records,
        format=reader.name,
        path=path,
        card=reader.card,
        missing_images=missing,
        skipped=ctx.skipped,
        meta=ctx.meta,
    )


def parse_options(reader: Reader, pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` from the command line into typed reader options."""
    hints = typing.get_type_hints(reader.read)
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ConfigError(f"option {pair!r} must look like key=value")
        if key not in reader.options:
            known = ", ".join(sorted(reader.options)) or "none"
            raise ConfigError(f"format {reader.name!r} has no option {key!r} (options: {known})")
        parsed[key] = _coerce(key, text, hints.get(key, str))
    return parsed


def _coerce(key: str, text: str, hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args and type(None) in typing.get_args(hint):  # Optional[X]
        if text.lower() in ("", "none"):
            return None
        return _coerce(key, text, args[0])
    if hint is bool:
        lowered = text.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0"):
            raise ConfigError(f"option {key!r} must be true or false, not {text!r}")
        return lowered in ("true", "yes", "1")
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            raise ConfigError(f"option {key!r} must be a number, not {text!r}") from None
    if hint is Path:
        return Path(text)
    return text


def _select(
    records: list[Record],
    kinds: tuple[type, ...] | None,
    split: str | None,
    languages: Sequence[str] | None,
) -> list[Record]:
    if kinds is not None:
        records = [r for r in records if isinstance(r, tuple(kinds))]
    if split is not None:
        records = [r for r in records if getattr(r, "split", None) == split]
    if languages is not None:
        wanted = set(languages)
        records = [r for r in records if r.language in wanted]
    return records


def _missing_images(records: list[Record]) -> list[MissingImage]:
    exists: dict[Path, bool] = {}
    missing: list[MissingImage] = []
    total = sum(len(record_images(r)) for r in records)
    with progress(transient=True, disable=total < _PROGRESS_FROM) as bar:
        task = bar.add_task("checking image files", total=total)
        for record in records:
            for path in record_images(record):
                if path not in exists:
                    exists[path] = path.is_file()
                if not exists[path]:
                    missing.append(MissingImage(record.id, path))
                bar.advance(task)
    return missing
