"""Hiding a world image's objects: their pixel boxes painted over with the background's colour.

A generated world writes, beside every ``images/<id>.png``, the structured scene
``images/<id>.json`` with each object's pixel box (``objects[i].bbox`` = ``[x0, y0, x1, y1]``,
``x1``/``y1`` exclusive, at the scene's ``image_size``). :func:`mask_objects` paints every box
with one colour, by default the mean colour of the pixels outside all boxes (the background's
colour), so the vision tower sees the scene's background with flat patches where the objects
were: the "objects masked" condition of the vision-for-language ablation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from vislang.errors import DataFormatError

Box = tuple[int, int, int, int]
"""A pixel box ``(x0, y0, x1, y1)``, ``x1`` and ``y1`` exclusive."""


def scene_file(image: str | Path) -> Path:
    """The structured scene written beside a world image (``images/<id>.json``)."""
    return Path(image).with_suffix(".json")


def object_boxes(scene: str | Path) -> tuple[list[Box], tuple[int, int]]:
    """The pixel boxes of a scene file's objects and the ``(width, height)`` they refer to.

    Raises :class:`~vislang.errors.DataFormatError` naming the file and field when the file is
    missing, is not JSON, or holds no well-formed ``objects[i].bbox``.
    """
    path = Path(scene)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "structured scene file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFormatError(path, f"cannot read the scene: {error}") from None
    if not isinstance(data, dict):
        raise DataFormatError(path, "expected a JSON object")
    size = data.get("image_size")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_count(v) for v in size)):
        raise DataFormatError(path, "expected [width, height]", field="image_size")
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise DataFormatError(path, "expected a list of objects", field="objects")
    width, height = int(size[0]), int(size[1])
    boxes: list[Box] = []
    for index, obj in enumerate(objects):
        bbox = obj.get("bbox") if isinstance(obj, dict) else None
        where = f"objects[{index}].bbox"
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_count(v) for v in bbox)):
            raise DataFormatError(path, "expected [x0, y0, x1, y1] in pixels", field=where)
        x0, y0, x1, y1 = (int(v) for v in bbox)
        if not (x0 <= x1 <= width and y0 <= y1 <= height):
            raise DataFormatError(
                path, f"box {bbox} outside the {width}×{height} image", field=where
            )
        boxes.append((x0, y0, x1, y1))
    return boxes, (width, height)


def box_mask(size: tuple[int, int], boxes: Sequence[Box]) -> np.ndarray:
    """A boolean ``(height, width)`` array, true inside any of ``boxes``."""
    width, height = size
    inside = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    return inside


def background_colour(image: Image.Image, boxes: Sequence[Box]) -> tuple[int, int, int]:
    """The mean RGB colour of the pixels outside every box (of the whole image when the boxes
    cover it all), rounded to integers."""
    pixels = np.asarray(image.convert("RGB"))
    outside = ~box_mask(image.size, boxes)
    chosen = pixels[outside] if outside.any() else pixels.reshape(-1, 3)
    red, green, blue = (round(float(v)) for v in chosen.mean(axis=0))
    return red, green, blue


def mask_objects(
    image: Image.Image, boxes: Sequence[Box], fill: tuple[int, int, int] | None = None
) -> Image.Image:
    """A copy of ``image`` (as RGB) with every box painted ``fill`` (default: the
    :func:`background_colour`); pixels outside the boxes are left as they were."""
    colour = background_colour(image, boxes) if fill is None else fill
    pixels = np.array(image.convert("RGB"))
    pixels[box_mask(image.size, boxes)] = colour
    return Image.fromarray(pixels)


def masked_world_image(image: Image.Image, image_file: str | Path) -> Image.Image:
    """``image`` (the decoded ``image_file`` of a world) with the objects of its structured scene
    masked; the scene's ``image_size`` must be the image's size."""
    scene = scene_file(image_file)
    boxes, size = object_boxes(scene)
    if size != image.size:
        raise DataFormatError(
            scene,
            f"boxes are for {size[0]}×{size[1]}, the image is {image.width}×{image.height}",
            field="image_size",
        )
    return mask_objects(image, boxes)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


__all__ = [
    "Box",
    "background_colour",
    "box_mask",
    "mask_objects",
    "masked_world_image",
    "object_boxes",
    "scene_file",
]
