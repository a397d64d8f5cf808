"""``vislang train NAME`` runs a shipped recipe when NAME is not a file."""

from __future__ import annotations

import pytest

from vislang.commands.train import _config_path
from vislang.errors import ConfigError
from vislang.recipes import recipe_path


def test_a_recipe_name_resolves_to_the_shipped_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _config_path("lm-stage0-quick") == recipe_path("lm-stage0-quick")


def test_an_existing_file_wins_over_a_recipe_of_the_same_name(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lm-stage0-quick").write_text("[task]\n")
    assert _config_path("lm-stage0-quick").resolve() == (tmp_path / "lm-stage0-quick").resolve()


def test_an_unknown_name_lists_the_recipes(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no shipped recipe.*lm-stage0-quick"):
        _config_path("lm-stage-zero")
