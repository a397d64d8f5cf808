"""Rendering: sizes, determinism, and pixel boxes that enclose each object."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vislang.data.world import WorldConfig, object_box, render_scene, sample_scene
from vislang.data.world.render import PLAIN_BACKGROUND, png_bytes
from vislang.data.world.scene import fits


@pytest.mark.parametrize("size", [32, 64, 224])
def test_boxes_enclose_every_object(size: int) -> None:
    config = WorldConfig(min_objects=3, max_objects=6)
    for seed in range(10):
        scene = sample_scene(random.Random(seed), config)
        image = np.asarray(render_scene(scene, size, texture=False)).astype(int)
        drawn = np.abs(image - np.array(PLAIN_BACKGROUND)).sum(axis=-1) > 30
        inside = np.zeros_like(drawn)
        for obj in scene.objects:
            x0, y0, x1, y1 = object_box(obj, size)
            assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
            region = drawn[y0:y1, x0:x1]
            assert region.mean() > 0.25, (obj, region.mean())
            inside[y0:y1, x0:x1] = True
        assert not (drawn & ~inside).any()


def test_objects_do_not_overlap_and_stay_inside() -> None:
    config = WorldConfig(min_objects=6, max_objects=6)
    for seed in range(30):
        scene = sample_scene(random.Random(seed), config)
        for i, obj in enumerate(scene.objects):
            assert fits(obj, scene.objects[:i] + scene.objects[i + 1 :])


def test_rendering_is_deterministic_and_textured() -> None:
    scene = sample_scene(random.Random(1), WorldConfig())
    first = png_bytes(render_scene(scene, 64))
    assert first == png_bytes(render_scene(scene, 64))
    background = np.asarray(render_scene(scene, 64))[:4, :4].reshape(-1, 3)
    assert len({tuple(p) for p in background}) > 1  # not a flat colour
