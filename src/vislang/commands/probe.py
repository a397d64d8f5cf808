"""``vislang probe``: what drives a model's success — foils, Winoground, attribute probes,
modality influence, and a report that puts them side by side.

Each probe lives in :mod:`vislang.probe`; this module only parses options and prints. Probes
with their own command module register here with one tuple in :data:`_PROBE_COMMANDS`.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="probe",
    help="Probe what models understand: foils, Winoground, attributes, modality influence.",
    no_args_is_help=True,
)

# (module in vislang.commands, name of the command function in it, CLI name)
_PROBE_COMMANDS: list[tuple[str, str, str]] = [
    ("probe_attributes", "attributes", "attributes"),
]


def _mount() -> None:
    for module_name, attribute, cli_name in _PROBE_COMMANDS:
        module = importlib.import_module(f"vislang.commands.{module_name}")
        app.command(cli_name)(getattr(module, attribute))


_mount()
