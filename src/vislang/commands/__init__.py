"""The subcommands of ``vislang``, one module per group; mounted by :mod:`vislang.cli`."""
