"""``vislang data``: list the dataset readers, inspect a dataset, print a dataset card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vislang import console
from vislang.commands.options import JsonFlag
from vislang.data.readers import DatasetCard, get_reader, list_readers, read_dataset
from vislang.data.readers.registry import parse_options
from vislang.data.readers.summary import example_view, summarize
from vislang.errors import ConfigError

app = typer.Typer(
    name="data",
    help="Datasets: list the readers, inspect a dataset, print a dataset card.",
    no_args_is_help=True,
)

_SHOWN_PROBLEMS = 10


@app.command("formats")
def formats(as_json: JsonFlag = False) -> None:
    """List the dataset formats vislang reads, with the records they give and their options."""
    rows = [
        {
            "format": reader.name,
            "records": ", ".join(cls.kind for cls in reader.kinds),
            "task types": ", ".join(reader.card.task_types),
            "languages": len(reader.card.languages) or "any",
            "PATH": reader.layout,
            "options": {
                name: {"help": text, "default": _plain(default)}
                for (name, text), default in zip(
                    reader.options.items(), reader.option_defaults().values(), strict=True
                )
            },
        }
        for reader in list_readers()
    ]

    def render() -> None:
        table = Table(title="dataset formats (read as FORMAT:PATH)", show_lines=True)
        for column in ("format", "records", "task types", "languages", "PATH"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                *(str(row[c]) for c in ("format", "records", "task types", "languages", "PATH"))
            )
        console.stdout.print(table)
        options = [
            {
                "format": row["format"],
                "option": name,
                "default": spec["default"],
                "help": spec["help"],
            }
            for row in rows
            for name, spec in row["options"].items()
        ]
        console.stdout.print(console.rows_table(options, title="reader options (-o key=value)"))

    console.emit({"formats": rows}, as_json, render)


@app.command("inspect")
def inspect(
    path: Annotated[Path, typer.Argument(help="The dataset's folder or file.")],
    format_name: Annotated[
        str, typer.Option("--format", "-f", help="Format name (see `vislang data formats`).")
    ],
    split: Annotated[str | None, typer.Option(help="Keep only this split.")] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", "-l", help="Keep only this language (repeatable)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Reader option key=value (repeatable): images=DIR."),
    ] = None,
    on_missing_image: Annotated[
        str, typer.Option(help="report (keep the records), skip (drop them) or fail.")
    ] = "report",
    on_bad_item: Annotated[
        str, typer.Option(help="fail on a malformed item, or skip it and list it.")
    ] = "fail",
    as_json: JsonFlag = False,
) -> None:
    """Read a dataset; print its counts, missing images, skipped items and one example."""
    try:
        reader = get_reader(format_name)
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint="--format") from None
    _check_choice(on_missing_image, ("report", "skip", "fail"), "--on-missing-image")
    _check_choice(on_bad_item, ("fail", "skip"), "--on-bad-item")
    dataset = read_dataset(
        f"{reader.name}:{path}",
        split=split,
        languages=language or None,
        on_missing_image=on_missing_image,
        on_bad_item=on_bad_item,
        **parse_options(reader, option or []),
    )
    result = summarize(dataset)
    result["missing_image_examples"] = [
        {"record": m.record_id, "path": str(m.path)}
        for m in dataset.missing_images[:_SHOWN_PROBLEMS]
    ]
    result["skipped_items"] = [
        {"source": s.source, "line": s.line, "item": s.item_id, "reason": s.reason}
        for s in dataset.skipped[:_SHOWN_PROBLEMS]
    ]
    result["example"] = example_view(dataset.records[0]) if dataset.records else None

    def render() -> None:
        counts = {
            k: v
            for k, v in result.items()
            if k not in ("missing_image_examples", "skipped_items", "example")
        }
        console.stdout.print(console.key_value_table(counts, title=f"{reader.name}: {path}"))
        if result["missing_image_examples"]:
            console.stdout.print(
                console.rows_table(
                    result["missing_image_examples"],
                    title=f"missing images (first {_SHOWN_PROBLEMS} of {result['missing_images']})",
                )
            )
        if result["skipped_items"]:
            console.stdout.print(
                console.rows_table(
                    result["skipped_items"],
                    title=f"skipped items (first {_SHOWN_PROBLEMS} of {result['skipped']})",
                )
            )
        if result["example"] is not None:
            console.stdout.print("[bold]example[/]")
            console.stdout.print_json(json.dumps(result["example"], ensure_ascii=False))

    console.emit(result, as_json, render)


@app.command("card")
def card(
    name: Annotated[str, typer.Argument(help="Format name (see `vislang data formats`).")],
    as_json: JsonFlag = False,
) -> None:
    """Print a dataset's card: task types, languages, licence, citation and the five key factors."""
    try:
        dataset_card: DatasetCard = get_reader(name).card
    except ConfigError as error:
        raise typer.BadParameter(str(error), param_hint="NAME") from None

    def render() -> None:
        fields = {
            "title": dataset_card.title,
            "task types": ", ".join(dataset_card.task_types),
            "tasks": dataset_card.tasks,
            "languages": ", ".join(dataset_card.languages) or "as generated",
            "licence": dataset_card.licence,
            "citation": dataset_card.citation,
            **dataset_card.key_factors(),
            "homepage": dataset_card.homepage,
            "notes": dataset_card.notes,
        }
        table = console.key_value_table(
            {k: v for k, v in fields.items() if v}, title=f"dataset card: {name}"
        )
        console.stdout.print(table)

    console.emit(dataset_card.to_dict(), as_json, render)


def _check_choice(value: str, choices: tuple[str, ...], hint: str) -> None:
    if value not in choices:
        raise typer.BadParameter(f"must be one of {', '.join(choices)}", param_hint=hint)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value
