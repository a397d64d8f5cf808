"""Every English text of a generated world, checked against the scene files by an independent
reader (tests/world/world_english.py): captions true, foils false, answers and labels right,
Winoground groups well formed, sequence steps showing their actions."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from world_english import (
    NUMBERS,
    box_statement_true,
    caption_true,
    description,
    matches,
    nlvr_boxes,
    pair_statement_true,
    vqa_answer,
)
from world_fixtures import read_jsonl, scene_objects

from vislang.data.world import World, WorldConfig
from vislang.data.world.captions import SPECIFICITY_ORDER

BALANCE_WORLD = WorldConfig(
    scenes=1500, seed=3, languages=("en",), winoground_rate=0.0, sequence_rate=0.0
)


def _english(world: Path, task: str) -> list[dict]:
    return [r for r in read_jsonl(world / "tasks" / f"{task}.jsonl") if r["language"] == "en"]


def test_every_caption_is_true_of_its_image(world_dir: Path) -> None:
    records = _english(world_dir, "captions")
    assert len(records) == 120
    checked = 0
    for record in records:
        objects = scene_objects(world_dir, record["image"])
        assert len(record["captions"]) == 5
        for caption in record["captions"]:
            assert caption_true(caption, objects), (record["id"], caption)
            checked += 1
    assert checked == 600


def test_captions_vary_in_structure(world_dir: Path) -> None:
    kinds = Counter(k for r in _english(world_dir, "captions") for k in r["meta"]["caption_kinds"])
    assert set(kinds) == {
        "inventory",
        "shape_counts",
        "colour_counts",
        "total",
        "relation",
        "salient",
        "one_kind",
    }


def test_captions_prefer_what_sets_the_scene_apart(world_dir: Path) -> None:
    objects_when_counted: Counter[int] = Counter()
    for record in _english(world_dir, "captions"):
        kinds = record["meta"]["caption_kinds"]
        # the kinds are tried in order, so a scene's kinds are a subsequence of that order
        tried = iter(SPECIFICITY_ORDER)
        assert all(kind in tried for kind in kinds), kinds
        if "total" in kinds:
            objects_when_counted[len(scene_objects(world_dir, record["image"]))] += 1
    # "There are n objects." only fills the sets of scenes with too little else to say
    assert objects_when_counted and set(objects_when_counted) <= {1, 2, 3}
    assert objects_when_counted[1] > 10 * (objects_when_counted[2] + objects_when_counted[3])


def test_every_foil_is_false_and_its_caption_true(world_dir: Path) -> None:
    records = _english(world_dir, "foils")
    phenomena = Counter(r["phenomenon"] for r in records)
    assert set(phenomena) == {
        "existence",
        "plurality",
        "counting",
        "spatial_relation",
        "attribute_swap",
        "noun_replacement",
    }
    for record in records:
        objects = scene_objects(world_dir, record["image"])
        assert caption_true(record["caption"], objects), record
        assert not caption_true(record["foil"], objects), record
        assert record["caption"] != record["foil"]


def test_foils_cannot_be_told_from_captions_by_their_text() -> None:
    # Over a larger world (foils only matter here): the smaller number, "several" and "no" are in
    # the caption about half the time, and captions and foils state the same numbers alike.
    world = World(BALANCE_WORLD)
    records: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item in world.items():
        for record in item.records["foils"]:
            records[record.phenomenon].append((record.caption, record.foil))
    counting, plurality, existence = records["counting"], records["plurality"], records["existence"]
    assert min(len(counting), len(plurality), len(existence)) > 150

    numbers = [(_stated_number(caption), _stated_number(foil)) for caption, foil in counting]
    assert 0.4 < _share(c < f for c, f in numbers) < 0.6
    assert {c for c, _ in numbers} == {f for _, f in numbers} == {1, 2, 3}
    assert _distance(Counter(c for c, _ in numbers), Counter(f for _, f in numbers)) < 0.1

    assert 0.4 < _share("several" in caption for caption, _ in plurality) < 0.6
    assert all(("several" in caption) != ("several" in foil) for caption, foil in plurality)

    assert 0.4 < _share(caption.startswith("There is no ") for caption, _ in existence) < 0.6
    in_captions = Counter(_stated_number(c) for c, _ in existence if "There is no " not in c)
    in_foils = Counter(_stated_number(f) for _, f in existence if "There is no " not in f)
    assert _distance(in_captions, in_foils) < 0.1


def _stated_number(sentence: str) -> int:
    word = re.fullmatch(r"There (?:is|are) (\w+) .+\.", sentence).group(1)
    return 1 if word in ("a", "an") else NUMBERS.get(word) or int(word)


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values)


def _distance(first: Counter[int], second: Counter[int]) -> float:
    """Total variation distance between two count distributions."""
    n_first, n_second = sum(first.values()), sum(second.values())
    keys = set(first) | set(second)
    return sum(abs(first[k] / n_first - second[k] / n_second) for k in keys) / 2


def test_vqa_answers_match_the_scene(world_dir: Path) -> None:
    records = _english(world_dir, "vqa")
    assert {r["question_type"] for r in records} == {
        "colour",
        "shape",
        "count",
        "existence",
        "relation",
    }
    for record in records:
        objects = scene_objects(world_dir, record["image"])
        assert record["answers"] == [vqa_answer(record["question"], objects)] * 10, record


def test_yes_no_answers_are_balanced(world_dir: Path) -> None:
    answers = Counter(
        r["answers"][0] for r in _english(world_dir, "vqa") if r["answer_type"] == "yes/no"
    )
    assert 0.35 < answers["yes"] / (answers["yes"] + answers["no"]) < 0.65


def test_statements_have_the_right_labels_and_are_balanced(world_dir: Path) -> None:
    records = _english(world_dir, "statements")
    layouts = Counter(r["meta"]["layout"] for r in records)
    assert layouts["pair"] > 100 and layouts["nlvr"] > 100
    for record in records:
        if record["meta"]["layout"] == "pair":
            left, right = (scene_objects(world_dir, image) for image in record["images"])
            truth = pair_statement_true(record["statement"], left, right)
        else:
            scene = json.loads(
                (world_dir / record["images"][0]).with_suffix(".json").read_text("utf-8")
            )
            assert scene["structured_rep"] == record["meta"]["structured_rep"]
            truth = box_statement_true(record["statement"], nlvr_boxes(scene["structured_rep"]))
        assert truth == record["label"], record
    labels = Counter(r["label"] for r in records)
    assert abs(labels[True] - labels[False]) <= 0.1 * len(records)


def _words(text: str) -> Counter[str]:
    text = unicodedata.normalize("NFC", text).casefold()
    out: Counter[str] = Counter()
    for token in re.findall(r"\w+", text):
        if any("\u4e00" <= ch <= "\u9fff" for ch in token):
            out.update(token)
        else:
            out[token] += 1
    return out


def test_winoground_groups_satisfy_the_definition(world_dir: Path) -> None:
    records = read_jsonl(world_dir / "tasks" / "winoground.jsonl")
    assert {r["language"] for r in records} >= {"en", "id", "zh", "ta"}
    for record in records:
        first, second = record["captions"]
        assert first != second
        assert _words(first) == _words(second), record
    english = [r for r in records if r["language"] == "en"]
    assert len(english) > 60
    assert {r["tag"] for r in english} == {"Object", "Relation"}
    for record in english:
        scenes = [scene_objects(world_dir, image) for image in record["images"]]
        for i, caption in enumerate(record["captions"]):
            truth = [caption_true(caption, objects) for objects in scenes]
            assert truth == [j == i for j in range(2)], (record, i)


def test_sequence_steps_show_their_actions(world_dir: Path) -> None:
    records = _english(world_dir, "sequences")
    assert len(records) > 60
    routines = Counter(r["meta"]["routine"] for r in records)
    assert set(routines) == {"clear", "paint", "move", "flash"}
    for record in records:
        states = [scene_objects(world_dir, step["image"]) for step in record["steps"]]
        for before, after, step in zip(states, states[1:], record["steps"][1:], strict=False):
            _check_action(step["description"], before, after)
        atoms = record["target_atoms"]
        target = record["target"]
        assert target.startswith(
            {
                "remove": "remove the ",
                "add": "add a",
                "move": "move the ",
                "recolour": "paint the ",
            }[atoms["verb"]]
        )
        assert atoms["object"] in target


def _check_action(text: str, before: list[dict], after: list[dict]) -> None:
    """Check an English action against the change between two scene states."""
    if m := re.fullmatch(r"remove the (.+)", text):
        desc = description(m.group(1))
        assert sum(matches(o, desc) for o in before) == 1
        assert sum(matches(o, desc) for o in after) == 0
        assert len(after) == len(before) - 1
    elif m := re.fullmatch(r"add an? (.+)", text):
        desc = description(m.group(1))
        assert sum(matches(o, desc) for o in after) == sum(matches(o, desc) for o in before) + 1
    elif m := re.fullmatch(r"paint the (.+) (\w+)", text):
        desc = description(m.group(1))
        assert sum(matches(o, desc) for o in after) == 0
        assert sum(o["colour"] == m.group(2) for o in after) > sum(
            o["colour"] == m.group(2) for o in before
        )
    elif m := re.fullmatch(r"move the (.+) (to the left|to the right|up|down)", text):
        desc = description(m.group(1))
        (old,) = [o for o in before if matches(o, desc)]
        (new,) = [o for o in after if matches(o, desc)]
        dx, dy = new["x"] - old["x"], new["y"] - old["y"]
        expected = {"to the left": dx < 0, "to the right": dx > 0, "up": dy < 0, "down": dy > 0}
        assert expected[m.group(2)], (text, old, new)
    else:
        raise AssertionError(f"unknown action {text!r}")
