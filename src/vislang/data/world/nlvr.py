"""The NLVR layout: three 100×100 boxes side by side, drawn from a ``structured_rep``.

A ``structured_rep`` (as in the NLVR corpus) is a list of three boxes, each a list of objects
``{"type", "color", "size", "x_loc", "y_loc"}``: type triangle/circle/square, colour ``Yellow``,
``Black`` or ``#0099ff``, size 10/20/30 pixels, and the top-left corner of the object's square
inside its box. The image is 400×100: boxes at x = 0, 150 and 300 on light grey, separated by
dark grey bars; triangles point up. :func:`render_nlvr` draws any such scene, so models trained
on generated data can be tested on the corpus's human statements.
"""

from __future__ import annotations

import random
from typing import Any

from PIL import Image, ImageDraw

from vislang.data.world import frames as f
from vislang.data.world.concepts import NLVR_COLOURS, NLVR_SHAPES, NLVR_SIZES, Compound
from vislang.data.world.scene import Scene, WorldObject
from vislang.errors import DataFormatError

BOX_SIZE = 100
BOX_OFFSETS = (0, 150, 300)
IMAGE_SIZE = (400, 100)
BOX_BACKGROUND = (211, 211, 211)
SEPARATOR = (128, 128, 128)
NLVR_RGB = {"Yellow": (255, 255, 0), "Black": (0, 0, 0), "#0099ff": (0, 153, 255)}

StructuredRep = list[list[dict[str, Any]]]


def _check(rep: StructuredRep) -> None:
    if not isinstance(rep, list) or len(rep) != 3:
        raise DataFormatError("<structured_rep>", "expected a list of three boxes")
    for b, box in enumerate(rep):
        for o, obj in enumerate(box):
            where = f"box {b} object {o}"
            for key, allowed in (("type", NLVR_SHAPES), ("color", tuple(NLVR_RGB))):
                if obj.get(key) not in allowed:
                    raise DataFormatError(
                        "<structured_rep>",
                        f"{where}: {obj.get(key)!r} not in {allowed}",
                        field=key,
                    )
            for key in ("size", "x_loc", "y_loc"):
                if not isinstance(obj.get(key), int):
                    raise DataFormatError(
                        "<structured_rep>", f"{where}: expected an integer", field=key
                    )


def object_box(obj: dict[str, Any], box_index: int) -> tuple[int, int, int, int]:
    """The object's pixel box ``(x0, y0, x1, y1)`` in the 400×100 image (x1, y1 exclusive)."""
    x0 = BOX_OFFSETS[box_index] + obj["x_loc"]
    y0 = obj["y_loc"]
    return (x0, y0, x0 + obj["size"], y0 + obj["size"])


def render_nlvr(structured_rep: StructuredRep) -> Image.Image:
    """Draw an NLVR ``structured_rep`` as a 400×100 RGB image in the corpus's layout."""
    _check(structured_rep)
    image = Image.new("RGB", IMAGE_SIZE, SEPARATOR)
    draw = ImageDraw.Draw(image)
    for index, box in enumerate(structured_rep):
        left = BOX_OFFSETS[index]
        draw.rectangle((left, 0, left + BOX_SIZE - 1, BOX_SIZE - 1), fill=BOX_BACKGROUND)
        for obj in box:
            x0, y0, x1, y1 = object_box(obj, index)
            fill = NLVR_RGB[obj["color"]]
            if obj["type"] == "square":
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
            elif obj["type"] == "circle":
                draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
            else:
                draw.polygon([(x0, y1 - 1), (x1 - 1, y1 - 1), ((x0 + x1 - 1) / 2, y0)], fill=fill)
    return image


def rep_as_boxes(structured_rep: StructuredRep) -> tuple[Scene, ...]:
    """The three boxes as scenes of world objects (for truth conditions of box statements).

    NLVR's middle size (20) has no world size class; it is kept as "medium", which no box
    statement mentions.
    """
    boxes = []
    for index, box in enumerate(structured_rep):
        objects = tuple(
            WorldObject(
                shape=o["type"],
                colour=NLVR_COLOURS[o["color"]],
                size={10: "small", 30: "large"}.get(o["size"], "medium"),
                x=(o["x_loc"] + o["size"] / 2) / BOX_SIZE,
                y=(o["y_loc"] + o["size"] / 2) / BOX_SIZE,
                radius=o["size"] / 2 / BOX_SIZE,
            )
            for o in box
        )
        boxes.append(Scene(f"box{index}", objects))
    return tuple(boxes)


_COLOUR_NAMES = {world: nlvr for nlvr, world in NLVR_COLOURS.items()}


def sample_structured_rep(
    rng: random.Random, forbidden: frozenset[Compound] = frozenset(), max_objects: int = 5
) -> StructuredRep:
    """Three boxes of 1..``max_objects`` NLVR objects, squares never touching (1-pixel gaps)."""
    allowed = [
        (c, s) for c in NLVR_COLOURS.values() for s in NLVR_SHAPES if (c, s) not in forbidden
    ]
    rep: StructuredRep = []
    for _ in range(3):
        box: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, max_objects)):
            colour, shape = rng.choice(allowed)
            size = rng.choice(NLVR_SIZES)
            for _ in range(50):
                x, y = rng.randint(0, BOX_SIZE - size), rng.randint(0, BOX_SIZE - size)
                if all(
                    x + size < o["x_loc"]
                    or o["x_loc"] + o["size"] < x
                    or y + size < o["y_loc"]
                    or o["y_loc"] + o["size"] < y
                    for o in box
                ):
                    box.append(
                        {
                            "y_loc": y,
                            "type": shape,
                            "color": _COLOUR_NAMES[colour],
                            "x_loc": x,
                            "size": size,
                        }
                    )
                    break
        rep.append(box)
    return rep


def _random_np(rng: random.Random, forbidden: frozenset[Compound]) -> f.NP:
    kind = rng.random()
    if kind < 0.25:
        return f.NP(shape=rng.choice(NLVR_SHAPES))
    if kind < 0.5:
        return f.NP(colour=rng.choice(tuple(NLVR_COLOURS.values())))
    choices = [
        (c, s) for c in NLVR_COLOURS.values() for s in NLVR_SHAPES if (c, s) not in forbidden
    ]
    colour, shape = rng.choice(choices)
    return f.NP(shape, colour)


def box_statement_frames(
    structured_rep: StructuredRep,
    rng: random.Random,
    forbidden: frozenset[Compound],
    n: int,
) -> list[tuple[f.BoxStatement, bool]]:
    """Up to ``n`` distinct ``(frame, label)`` statements about the three boxes, labels
    alternating so that half are true."""
    boxes = rep_as_boxes(structured_rep)
    first = rng.random() < 0.5
    out: list[tuple[f.BoxStatement, bool]] = []
    for k in range(n):
        label = first if k % 2 == 0 else not first
        for _ in range(40):
            np = _random_np(rng, forbidden)
            kind = rng.choice(("box_with", "exactly", "every"))
            if kind == "box_with":
                frame: f.BoxStatement = f.BoxWith(np)
            elif kind == "every":
                frame = f.EveryBox(np)
            else:
                actual = sum(np.count(b) for b in boxes)
                frame = f.ExactlyTotal(np, max(1, actual + rng.choice((-1, 0, 0, 1))))
            if f.boxes_hold(frame, boxes) == label and all(frame != o for o, _ in out):
                out.append((frame, label))
                break
    return out
