"""Shared test fixtures.

Real datasets written by others live next to the repository in ``../shared/data`` (or wherever
``VISLANG_SHARED_DATA`` points). Tests that need them use the ``shared_data`` fixture, which skips
with a clear reason when the folder is absent (as on a user's fresh clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """Where the shared real datasets are expected."""
    env = os.environ.get("VISLANG_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets; skips the test when it is absent."""
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(
            f"real datasets not found at {root} (set VISLANG_SHARED_DATA to the folder holding "
            "coco-mini/, nlvr1/, valse/, ...)"
        )
    return root
