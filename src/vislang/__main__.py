"""``python -m vislang`` runs the ``vislang`` command."""

from vislang.cli import main

main()
