"""``vislang train CONFIG.toml``: train any model family from a TOML config, also under torchrun."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.errors import ConfigError


def train_command(
    config: Annotated[
        str,
        typer.Argument(
            help="TOML file with a \\[task] table (name and its options) and a \\[train] table, "
            "or the name of a shipped recipe (`python -m vislang.recipes` lists them)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Run folder for logs, checkpoints and the model (default: runs/CONFIG)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run in --out from its newest checkpoint."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
) -> None:
    """Train a model from a TOML config; run it under torchrun for several processes."""
    from vislang.train.distributed import env_rank
    from vislang.train.loop import train

    config_path = _config_path(config)
    out_dir = out if out is not None else Path("runs") / config_path.stem
    try:
        summary = train(config_path, out_dir, resume=resume)
    except KeyboardInterrupt:
        if env_rank() == 0:
            typer.echo(f"interrupted: continue with --resume --out {out_dir}", err=True)
        raise typer.Exit(130) from None
    if env_rank() == 0:
        console.emit(summary, as_json, render=lambda: _render(summary))


def _config_path(config: str) -> Path:
    """A config file, or the shipped recipe of that name when no such file exists."""
    from vislang.recipes import recipe_names, recipe_path

    path = Path(config)
    if path.exists():
        return path
    if config in recipe_names():
        return recipe_path(config)
    raise ConfigError(
        f"{config}: no such config file, and no shipped recipe of that name "
        f"(recipes: {', '.join(recipe_names())})"
    )


def _render(summary: dict[str, Any]) -> None:
    overview = {key: value for key, value in summary.items() if key != "final_metrics"}
    console.stdout.print(console.key_value_table(overview, title="training run"))
    if summary["final_metrics"]:
        console.stdout.print(console.key_value_table(summary["final_metrics"], title="final eval"))
