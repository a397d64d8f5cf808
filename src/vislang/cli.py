"""The ``vislang`` command.

Each group of subcommands lives in its own module (``vislang.commands.*``) and is mounted here, so
this file stays a table of contents.
"""

from __future__ import annotations

import importlib

import typer
from rich.text import Text

from vislang import __version__, console
from vislang.errors import VislangError

app = typer.Typer(
    name="vislang",
    help="Vision and language toolkit: data, encoders, training, retrieval, captioning, probes.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

# (module in vislang.commands, name of the typer app or command function in it, CLI name)
# A group is a sub-app (``vislang world generate``); a command is one function (``vislang demo``).
_GROUPS: list[tuple[str, str, str]] = [
    ("data", "app", "data"),
    ("eval", "app", "eval"),
    ("index", "app", "index"),
    ("probe", "app", "probe"),
    ("score", "app", "score"),
    ("world", "app", "world"),
]
_COMMANDS: list[tuple[str, str, str]] = [
    ("train", "train_command", "train"),
    ("embed", "embed_command", "embed"),
    ("demo", "demo_command", "demo"),
    ("caption", "caption_command", "caption"),
    ("ask", "ask_command", "ask"),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vislang {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Vision and language toolkit: data, encoders, training, retrieval, captioning, probes."""


def _mount() -> None:
    for module_name, attribute, cli_name in _GROUPS:
        module = importlib.import_module(f"vislang.commands.{module_name}")
        sub = getattr(module, attribute)
        app.add_typer(sub, name=cli_name)
    for module_name, attribute, cli_name in _COMMANDS:
        module = importlib.import_module(f"vislang.commands.{module_name}")
        function = getattr(module, attribute)
        app.command(cli_name, help=(function.__doc__ or "").strip().splitlines()[0])(function)


_mount()


def main() -> None:
    """Entry point of the ``vislang`` console script: bad input ends with a one-line error."""
    try:
        app()
    except VislangError as error:
        message = Text.assemble(("error: ", "bold red"), str(error))
        console.stderr.print(message, highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
