"""The NLVR layout, checked on the corpus's own structured scenes and images."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from vislang.data.world import render_nlvr, sample_structured_rep
from vislang.data.world.nlvr import BOX_OFFSETS, NLVR_RGB, object_box
from vislang.errors import DataFormatError


def _dev(shared_data: Path) -> list[dict]:
    path = shared_data / "nlvr1" / "dev" / "dev.json"
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _separated(box: list[dict]) -> bool:
    """No two objects of one colour touch (their squares leave a pixel between them)."""
    for i, a in enumerate(box):
        for b in box[i + 1 :]:
            if a["color"] != b["color"]:
                continue
            apart_x = a["x_loc"] + a["size"] < b["x_loc"] or b["x_loc"] + b["size"] < a["x_loc"]
            apart_y = a["y_loc"] + a["size"] < b["y_loc"] or b["y_loc"] + b["size"] < a["y_loc"]
            if not (apart_x or apart_y):
                return False
    return True


def count_objects(image: Image.Image, box_index: int) -> int:
    """Connected components of each object colour inside one box."""
    pixels = np.asarray(image.convert("RGB"))[
        :, BOX_OFFSETS[box_index] : BOX_OFFSETS[box_index] + 100
    ]
    total = 0
    for rgb in NLVR_RGB.values():
        mask = np.all(pixels == np.array(rgb, dtype=np.uint8), axis=-1)
        total += ndimage.label(mask)[1]
    return total


@pytest.mark.shared_data
def test_rendered_dev_scenes_have_the_right_object_count_per_box(shared_data: Path) -> None:
    examples = _dev(shared_data)
    assert len(examples) > 900
    checked = 0
    for example in examples:
        rep = example["structured_rep"]
        image = render_nlvr(rep)
        assert image.size == (400, 100)
        for index, box in enumerate(rep):
            if _separated(box):
                assert count_objects(image, index) == len(box), (example["identifier"], index)
                checked += 1
    assert checked > 0.8 * 3 * len(examples)


@pytest.mark.shared_data
def test_rendering_matches_the_corpus_images(shared_data: Path) -> None:
    """Our drawing of a structured_rep agrees with the corpus's own picture of it."""
    for example in _dev(shared_data)[:20]:
        folder = shared_data / "nlvr1" / "dev" / "images" / example["directory"]
        original = Image.open(folder / f"dev-{example['identifier']}-0.png").convert("RGB")
        ours = np.asarray(render_nlvr(example["structured_rep"]), dtype=np.int16)
        theirs = np.asarray(original, dtype=np.int16)
        same = np.all(np.abs(ours - theirs) <= 8, axis=-1).mean()
        assert same > 0.98, (example["identifier"], same)


def test_object_boxes_cover_the_drawn_objects() -> None:
    rep = sample_structured_rep(random.Random(4))
    image = np.asarray(render_nlvr(rep))
    inside = np.zeros(image.shape[:2], dtype=bool)
    for index, box in enumerate(rep):
        for obj in box:
            x0, y0, x1, y1 = object_box(obj, index)
            inside[y0:y1, x0:x1] = True
    coloured = np.zeros(image.shape[:2], dtype=bool)
    for rgb in NLVR_RGB.values():
        coloured |= np.all(image == np.array(rgb, dtype=np.uint8), axis=-1)
    assert coloured.any()
    assert not (coloured & ~inside).any()


def test_sampled_layouts_count_right_too() -> None:
    for seed in range(20):
        rep = sample_structured_rep(random.Random(seed))
        image = render_nlvr(rep)
        for index, box in enumerate(rep):
            assert _separated(box)
            assert count_objects(image, index) == len(box)


def test_bad_structured_rep_names_the_field() -> None:
    with pytest.raises(DataFormatError, match="color"):
        render_nlvr(
            [[{"type": "circle", "color": "Red", "size": 10, "x_loc": 0, "y_loc": 0}], [], []]
        )
    with pytest.raises(DataFormatError, match="three boxes"):
        render_nlvr([[]])
