"""Reading reference and predicted captions for scoring, with errors that name file and entry.

References: a COCO caption file (``{"annotations": [{"image_id": ..., "caption": ...}, ...]}``,
other keys ignored) or a mapping ``{image_id: [caption, ...]}``. Predictions: a JSON list
``[{"image_id": ..., "caption": ...}, ...]`` (the COCO results format) or the same objects as JSON
lines (``.jsonl``). Image ids are read as strings (COCO's integer ids become ``"397133"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vislang.errors import DataFormatError


def read_references(path: str | Path) -> dict[str, list[str]]:
    """Reference captions per image id, from a COCO caption file or ``{id: [captions]}``."""
    data = _read_json(path)
    if isinstance(data, dict) and "annotations" in data:
        annotations = data["annotations"]
        if not isinstance(annotations, list):
            raise DataFormatError(path, "expected a list", field="annotations")
        references: dict[str, list[str]] = {}
        for index, entry in enumerate(annotations):
            where = f"annotations[{index}]"
            image = _image_id(path, entry, where)
            references.setdefault(image, []).append(_caption(path, entry, where))
        return references
    if isinstance(data, dict):
        references = {}
        for image, captions in data.items():
            if isinstance(captions, str) or not isinstance(captions, list):
                raise DataFormatError(
                    path, f"image {image}: expected a list of captions, got {_kind(captions)}"
                )
            if not captions:
                raise DataFormatError(path, f"image {image}: no captions")
            references[str(image)] = [
                _text(path, caption, f"image {image}, caption {k}", field="caption")
                for k, caption in enumerate(captions)
            ]
        return references
    raise DataFormatError(
        path,
        f"expected a COCO caption file or {{image_id: [captions]}}, got a JSON {_kind(data)}",
    )


def read_predictions(path: str | Path) -> dict[str, str]:
    """One predicted caption per image id, from ``[{image_id, caption}]`` or JSON lines."""
    path = Path(path)
    entries: list[tuple[dict[str, Any] | Any, str, int | None]] = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(_read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append((json.loads(line), f"line {number}", number))
            except json.JSONDecodeError as error:
                raise DataFormatError(path, f"invalid JSON: {error.msg}", line=number) from None
    else:
        data = _read_json(path)
        if not isinstance(data, list):
            raise DataFormatError(
                path, f"expected a list of {{image_id, caption}} objects, got a JSON {_kind(data)}"
            )
        entries = [(entry, f"entry {index}", None) for index, entry in enumerate(data)]
    predictions: dict[str, str] = {}
    for entry, where, line in entries:
        image = _image_id(path, entry, where, line)
        caption = _caption(path, entry, where, line)
        if image in predictions:
            raise DataFormatError(
                path,
                f"{where}: a second prediction for image {image} (one per image)",
                line=line,
                field="image_id",
            )
        predictions[image] = caption
    return predictions


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFormatError(path, "file not found") from None
    except UnicodeDecodeError as error:
        raise DataFormatError(path, f"not UTF-8 text ({error.reason})") from None


def _read_json(path: str | Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise DataFormatError(
            path, f"invalid JSON at column {error.colno}: {error.msg}", line=error.lineno
        ) from None


def _image_id(path: str | Path, entry: Any, where: str, line: int | None = None) -> str:
    if not isinstance(entry, dict):
        raise DataFormatError(path, f"{where}: expected an object, got {_kind(entry)}", line=line)
    if "image_id" not in entry:
        raise DataFormatError(path, f"{where}: missing", line=line, field="image_id")
    image = entry["image_id"]
    if isinstance(image, bool) or not isinstance(image, (str, int)) or str(image) == "":
        raise DataFormatError(
            path, f"{where}: expected a string or integer id", line=line, field="image_id"
        )
    return str(image)


def _caption(path: str | Path, entry: dict[str, Any], where: str, line: int | None = None) -> str:
    if "caption" not in entry:
        raise DataFormatError(path, f"{where}: missing", line=line, field="caption")
    return _text(path, entry["caption"], where, field="caption", line=line)


def _text(path: str | Path, value: Any, where: str, *, field: str, line: int | None = None) -> str:
    if not isinstance(value, str):
        raise DataFormatError(
            path, f"{where}: expected text, got {_kind(value)}", line=line, field=field
        )
    if not value.strip():
        raise DataFormatError(path, f"{where}: empty caption", line=line, field=field)
    return value


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
