"""The ``vislang`` command's entry points."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from vislang import __version__
from vislang.cli import app

runner = CliRunner()


def test_version_prints_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"vislang {__version__}"


def test_help_lists_every_subcommand() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    names = [command.name for command in app.registered_commands] + [
        group.name for group in app.registered_groups
    ]
    for name in names:
        assert name in result.stdout


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vislang", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
