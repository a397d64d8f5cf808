"""Terminal output: results on stdout (a table, or one JSON object), everything else on stderr.

Commands print their result through :func:`emit` so that ``--json`` output stays machine-readable:
logs, warnings and progress bars always go to stderr.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

stdout = Console()
stderr = Console(stderr=True)


def log(message: str) -> None:
    """Print a progress or status message on stderr."""
    stderr.print(message)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def emit(
    result: Mapping[str, Any], as_json: bool, render: Callable[[], None] | None = None
) -> None:
    """Print a command's result: one JSON object on stdout, or the human rendering.

    ``render`` draws the human-readable form; without it the result is shown as a key/value table.
    """
    if as_json:
        print(json.dumps(_jsonable(result), ensure_ascii=False))
        return
    if render is not None:
        render()
        return
    stdout.print(key_value_table(result))


def key_value_table(result: Mapping[str, Any], title: str | None = None) -> Table:
    """A two-column table of a flat mapping (nested values shown as JSON)."""
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in result.items():
        text = (
            json.dumps(_jsonable(value), ensure_ascii=False)
            if isinstance(value, (Mapping, list, tuple))
            else format_value(value)
        )
        table.add_row(str(key), text)
    return table


def rows_table(rows: Iterable[Mapping[str, Any]], title: str | None = None) -> Table:
    """A table with one row per mapping; columns are the union of keys in first-seen order."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(format_value(row.get(c, "")) for c in columns))
    return table


def format_value(value: Any) -> str:
    """Format a scalar for a table cell (floats with 4 significant decimals)."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def progress(transient: bool = False, disable: bool = False) -> Progress:
    """A rich progress bar on stderr with count, elapsed and remaining time."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=transient,
        disable=disable,
    )
