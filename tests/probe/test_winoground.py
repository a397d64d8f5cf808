"""The Winoground probe on hand-built score tables: strict text, image and group scores overall
and by tag, the four pairs of each example, and what is left out."""

from __future__ import annotations

import numpy as np
import pytest
from score_tables import TableScorer

from vislang.data.schema import WinogroundExample
from vislang.probe.winoground import probe_winoground, winoground_table_scores

# table[n, caption, image]
ALL_RIGHT = [[0.9, 0.1], [0.2, 0.8]]
TEXT_ONLY = [[0.5, 0.6], [0.1, 0.7]]  # each image prefers its caption; c0 prefers i1
TIE = [[0.5, 0.5], [0.5, 0.5]]
IMAGE_ONLY = [[0.6, 0.1], [0.7, 0.8]]  # each caption prefers its image; i0 prefers c1


def test_text_image_and_group_scores_by_hand_and_by_tag() -> None:
    table = np.array([ALL_RIGHT, TEXT_ONLY, TIE, IMAGE_ONLY])
    probe = winoground_table_scores(table, ["Object", "Object", "Relation", None])
    assert probe.overall.text == pytest.approx(2 / 4)
    assert probe.overall.image == pytest.approx(2 / 4)
    assert probe.overall.group == pytest.approx(1 / 4)
    assert probe.tags["Object"].to_dict() == {
        "text": 1.0,
        "image": 0.5,
        "group": 0.5,
        "examples": 2,
    }
    assert probe.tags["Relation"].group == 0.0  # ties fail
    assert probe.tags["untagged"].image == 1.0 and probe.tags["untagged"].text == 0.0


def _example(name: str, tag: str, images) -> WinogroundExample:
    return WinogroundExample(
        id=name,
        images=tuple(images),
        captions=(f"{name} c0", f"{name} c1"),
        language="en",
        source="test",
        tag=tag,
    )


def test_probe_scores_all_four_pairs_and_leaves_out_unreadable_examples(tmp_path) -> None:
    paths = {}
    for name in ("a0.png", "a1.png", "b0.png", "b1.png", "broken.png"):
        paths[name] = tmp_path / name
        paths[name].write_bytes(b"")
    examples = [
        _example("a", "Object", (paths["a0.png"], paths["a1.png"])),
        _example("b", "Relation", (paths["b0.png"], paths["b1.png"])),
        _example("c", "Object", (paths["a0.png"], paths["broken.png"])),
        _example("d", "Object", (paths["a0.png"], tmp_path / "missing.png")),
    ]
    table = {}
    for name, scores in (("a", ALL_RIGHT), ("b", TEXT_ONLY)):
        for c in (0, 1):
            for i in (0, 1):
                table[f"{name}{i}.png", f"{name} c{c}"] = scores[c][i]
    table["a0.png", "c c0"] = table["a0.png", "c c1"] = 0.0
    scorer = TableScorer(table)
    probe = probe_winoground(scorer, examples)
    assert scorer.calls == [12]
    assert probe.overall.to_dict() == {"text": 1.0, "image": 0.5, "group": 0.5, "examples": 2}
    assert probe.tags["Relation"].image == 0.0
    assert probe.left_out == {"missing_image": 1, "undecodable_image": 1}
    assert probe.to_dict()["chance"]["group"] == pytest.approx(1 / 6)


def test_a_text_only_score_cannot_pass() -> None:
    example = _example("a", "Object", ("x0.png", "x1.png"))
    scorer = TableScorer({(None, "a c0"): -1.0, (None, "a c1"): -2.0}, "text_loglik", False)
    probe = probe_winoground(scorer, [example])
    assert (probe.overall.text, probe.overall.image, probe.overall.group) == (0.0, 0.0, 0.0)
