"""Splits: the compositional split holds out exactly its compounds; iid splits by scene."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from world_fixtures import COMPOSITIONAL, read_jsonl

from vislang.data.world import World, WorldConfig, plan_splits
from vislang.errors import ConfigError

COMPOUND = re.compile(
    r"\b(red|orange|yellow|green|blue|purple|brown|black) "
    r"(circle|square|triangle|star|cross|heart)(?:e?s)?\b"
)


def _english_texts(record: dict) -> list[str]:
    texts = []
    for key in ("captions", "question", "statement", "caption", "foil", "target"):
        value = record.get(key)
        texts += value if isinstance(value, list) else [value] if value else []
    texts += [s["description"] for s in record.get("steps", [])]
    return texts


def test_held_out_compounds_appear_only_in_test_comp(world_dir: Path) -> None:
    splits = json.loads((world_dir / "splits.json").read_text("utf-8"))
    held_out = {tuple(c) for c in splits["held_out_compounds"]}
    assert splits["mode"] == "compositional" and len(held_out) == 4
    scene_split = {i: s for s, ids in splits["scenes"].items() for i in ids}
    assert set(splits["scenes"]) == {"train", "val", "test", "test_comp"}

    seen: dict[str, set[tuple[str, str]]] = {s: set() for s in splits["scenes"]}
    for path in sorted((world_dir / "images").glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        split = scene_split[data["id"].split("-")[0]]
        assert data["split"] == split
        if data.get("layout") == "nlvr":
            colours = {"Yellow": "yellow", "Black": "black", "#0099ff": "blue"}
            found = {
                (colours[o["color"]], o["type"]) for box in data["structured_rep"] for o in box
            }
        else:
            found = {(o["colour"], o["shape"]) for o in data["objects"]}
        seen[split] |= found
        if data["parent"] is None and split == "test_comp":
            assert found & held_out, data["id"]
    for split in ("train", "val", "test"):
        assert not seen[split] & held_out, split
    # every atom of a held-out compound still occurs in training images
    train_colours = {c for c, _ in seen["train"]}
    train_shapes = {s for _, s in seen["train"]}
    for colour, shape in held_out:
        assert colour in train_colours and shape in train_shapes

    for task in ("captions", "vqa", "statements", "foils", "winoground", "sequences"):
        for record in read_jsonl(world_dir / "tasks" / f"{task}.jsonl"):
            assert record["split"] == scene_split[record["id"].split("-")[0]]
            if record["language"] != "en" or record["split"] == "test_comp":
                continue
            for text in _english_texts(record):
                mentioned = set(COMPOUND.findall(text))
                assert not mentioned & held_out, (task, text)


def test_split_plan_is_deterministic_and_honours_fractions() -> None:
    config = WorldConfig(scenes=4000, seed=3)
    plan = plan_splits(config)
    counts = Counter(plan.split_of(i) for i in range(config.scenes))
    assert set(counts) == {"train", "val", "test"}
    assert abs(counts["train"] / 4000 - 0.8) < 0.03
    assert abs(counts["val"] / 4000 - 0.1) < 0.02
    again = plan_splits(config)
    assert [again.split_of(i) for i in range(200)] == [plan.split_of(i) for i in range(200)]


def test_compositional_world_has_both_test_splits() -> None:
    world = World(COMPOSITIONAL)
    splits = Counter(world.split_of(i) for i in range(COMPOSITIONAL.scenes))
    assert splits["test"] > 0 and splits["test_comp"] > 0


def test_given_held_out_compounds_are_used() -> None:
    config = WorldConfig(split="compositional", held_out_compounds=(("green", "triangle"),))
    assert plan_splits(config).held_out == (("green", "triangle"),)
    world = World(config.replace(scenes=60))
    for i in range(60):
        if world.split_of(i) != "test_comp":
            assert ("green", "triangle") not in world.scene(i).compounds()


def test_holding_out_a_whole_atom_is_refused() -> None:
    every_colour = tuple((c, "star") for c in WorldConfig().colours)
    with pytest.raises(ConfigError, match="removes the shape"):
        WorldConfig(split="compositional", held_out_compounds=every_colour)
