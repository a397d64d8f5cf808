"""Small generated worlds shared by the world tests (generated once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from world_fixtures import COMPOSITIONAL

from vislang.data.world import write_world


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A written compositional world with every task."""
    out = tmp_path_factory.mktemp("world") / "comp"
    write_world(COMPOSITIONAL, out)
    return out
