"""Reading source files so that every error names the file, the line and the field.

Readers open files through these helpers: :func:`load_json` for whole-file JSON, :func:`json_lines`
for JSON lines, :func:`text_lines` and :func:`tsv_rows` for text, and take values out of parsed
objects with :func:`need` and :func:`need_label`, which raise
:class:`~vislang.errors.DataFormatError` on a missing field or a value of the wrong type.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vislang.data.readers.dataset import ReadContext
from vislang.errors import DataFormatError

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except OSError as exc:
        raise DataFormatError(path, f"cannot read: {exc.strerror or exc}") from exc
    if path.suffix == ".gz":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataFormatError(path, f"not a valid gzip file: {exc}") from exc
    return data


def read_text(path: Path) -> str:
    """The whole file as text (UTF-8, a BOM removed; ``.gz`` files are decompressed)."""
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, "not UTF-8 text", line=line) from None


def load_json(path: Path) -> Any:
    """Parse a whole JSON file; a syntax error names its line."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None


def text_lines(path: Path) -> list[str]:
    """The file's lines without line endings (a final newline does not make an empty line)."""
    return read_text(path).splitlines()


def json_lines(path: Path, ctx: ReadContext | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON lines file.

    A line that is not a JSON object raises, or is listed and passed over when ``ctx`` skips bad
    items.
    """
    for number, line in enumerate(text_lines(path), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            _reject(ctx, DataFormatError(path, f"not valid JSON: {exc.msg}", line=number))
            continue
        if not isinstance(value, dict):
            _reject(ctx, DataFormatError(path, "expected a JSON object", line=number))
            continue
        yield number, value


def tsv_rows(
    path: Path, required: Sequence[str], ctx: ReadContext | None = None
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the ``(line_number, row)`` data rows of a tab-separated file.

    Raises when a ``required`` column is absent from the header; a row with more or fewer cells
    than the header raises, or is listed and passed over when ``ctx`` skips bad items.
    """
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter="\t")
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError(path, "empty file") from None
    for column in required:
        if column not in header:
            raise DataFormatError(path, "column missing from the header", line=1, field=column)
    rows = []
    for cells in reader:
        number = reader.line_num
        if not cells:
            continue
        if len(cells) != len(header):
            message = f"has {len(cells)} cells, the header has {len(header)}"
            _reject(ctx, DataFormatError(path, message, line=number))
            continue
        rows.append((number, dict(zip(header, cells, strict=True))))
    return header, rows


def _reject(ctx: ReadContext | None, error: DataFormatError) -> None:
    if ctx is None:
        raise error
    ctx.reject(error)


def need(
    obj: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    *,
    path: Path,
    line: int | None = None,
    where: str = "",
    allow_empty: bool = False,
) -> Any:
    """``obj[key]``, checked to be of type ``kind`` (and, for strings and lists, not blank).

    ``where`` prefixes the field name in errors, e.g. ``"annotations[3]."`` for items of a
    whole-file JSON document that has no useful line numbers.
    """
    field = f"{where}{key}"
    if not isinstance(obj, Mapping):
        raise DataFormatError(
            path, "expected an object", line=line, field=where.rstrip(".") or None
        )
    if key not in obj:
        raise DataFormatError(path, "missing", line=line, field=field)
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if not isinstance(value, kinds) or wrong_bool:
        wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise DataFormatError(
            path, f"expected {wanted}, got {_describe(value)}", line=line, field=field
        )
    blank = value.strip() == "" if isinstance(value, str) else value == []
    if blank and not allow_empty:
        raise DataFormatError(path, "is empty", line=line, field=field)
    return value


def need_strings(
    obj: Mapping[str, Any],
    key: str,
    *,
    path: Path,
    line: int | None = None,
    where: str = "",
) -> tuple[str, ...]:
    """``obj[key]`` as a non-empty list of strings (which may be blank: see :func:`split_blank`)."""
    values = need(obj, key, list, path=path, line=line, where=where)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise DataFormatError(
                path,
                f"expected a string, got {_describe(value)}",
                line=line,
                field=f"{where}{key}[{index}]",
            )
    return tuple(values)


def split_blank(texts: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """The texts stripped of surrounding whitespace without the blank ones, and how many were blank.

    A blank caption in a well-formed file is a gap in the data, not a format error: readers drop
    it, count it in the record's ``meta["blank_captions"]``, and list an item left with no caption
    in ``Dataset.skipped``.
    """
    kept = tuple(t.strip() for t in texts if t.strip())
    return kept, len(texts) - len(kept)


def need_label(
    obj: Mapping[str, Any],
    key: str,
    *,
    path: Path,
    line: int | None = None,
    where: str = "",
) -> bool:
    """A true/false label given as a JSON boolean or as the string "true"/"false" (any case)."""
    value = need(obj, key, (bool, str), path=path, line=line, where=where)
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise DataFormatError(
            path, f"expected true or false, got {value!r}", line=line, field=f"{where}{key}"
        )
    return lowered == "true"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
