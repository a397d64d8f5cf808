"""Helpers and configurations shared by the world tests (conftest.py holds the fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vislang.data.world import WorldConfig

# Compositional, with NLVR layouts, every sequence and Winoground rate at 1 so each task has
# plenty of records in a small world.
COMPOSITIONAL = WorldConfig(
    scenes=120,
    seed=11,
    split="compositional",
    nlvr=True,
    winoground_rate=1.0,
    sequence_rate=1.0,
    test_comp_fraction=0.2,
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of ``path``."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def scene_objects(world: Path, image: str) -> list[dict[str, Any]]:
    """The objects of the scene written next to ``image`` (a path relative to the world)."""
    data = json.loads((world / image).with_suffix(".json").read_text(encoding="utf-8"))
    return data["objects"]
