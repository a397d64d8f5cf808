"""Training recipes shipped with vislang: TOML configs for ``vislang train``.

Each recipe is a file ``<name>.toml`` in this package, installed with it. Use one by path::

    vislang train lm-stage0 --out runs/lm-stage0

or copy it and edit. From Python, ``vislang.train.train(recipe_path("lm-stage0"), out_dir)``.
"""

from __future__ import annotations

from pathlib import Path

from vislang.errors import ConfigError

RECIPE_DIR = Path(__file__).resolve().parent


def recipe_names() -> list[str]:
    """The names of the shipped recipes, sorted."""
    return sorted(path.stem for path in RECIPE_DIR.glob("*.toml"))


def recipe_path(name: str) -> Path:
    """The TOML file of recipe ``name``; a :class:`ConfigError` lists the recipes otherwise."""
    path = RECIPE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"no recipe {name!r} (recipes: {', '.join(recipe_names())})")
    return path
