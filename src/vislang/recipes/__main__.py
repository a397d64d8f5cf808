"""``python -m vislang.recipes [NAME]``: print a recipe's path, or list the recipes."""

from __future__ import annotations

import sys

from vislang.errors import ConfigError
from vislang.recipes import recipe_names, recipe_path


def main(argv: list[str]) -> int:
    """Print the path of recipe ``argv[0]``, or every recipe name without an argument."""
    if not argv:
        print("\n".join(recipe_names()))
        return 0
    try:
        print(recipe_path(argv[0]))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
