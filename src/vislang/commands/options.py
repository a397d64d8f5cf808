"""Command-line options several command groups share, declared once so they read the same."""

from __future__ import annotations

from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
DataOption = Annotated[
    str, typer.Option("--data", help="Dataset as FORMAT:PATH (see `vislang data formats`).")
]
SplitOption = Annotated[str | None, typer.Option("--split", help="Only this split of the data.")]
LanguagesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--languages", help="Only these languages (comma-separated or repeated; default: all)."
    ),
]
