"""Drawing scenes with Pillow, and the pixel bounding box of every object.

Rendering is a pure function of the scene and the image size: textures come from a fixed bank
(seeded once per size), per-object tint and rotation are part of the scene. Shapes are drawn at
twice the size and reduced, which anti-aliases their edges.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from vislang.data.world.concepts import COLOUR_RGB
from vislang.data.world.scene import TEXTURES, Scene, WorldObject

SUPERSAMPLE = 2
PLAIN_BACKGROUND = (205, 205, 205)


def _unit_star(points: int = 5, inner: float = 0.45) -> list[tuple[float, float]]:
    out = []
    for k in range(points * 2):
        angle = -math.pi / 2 + k * math.pi / points
        r = 1.0 if k % 2 == 0 else inner
        out.append((r * math.cos(angle), r * math.sin(angle)))
    return out


def _unit_heart(steps: int = 48) -> list[tuple[float, float]]:
    raw = []
    for k in range(steps):
        t = 2 * math.pi * k / steps
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        raw.append((x, y))
    ys = [y for _, y in raw]
    centre = (max(ys) + min(ys)) / 2
    scale = max(math.hypot(x, y - centre) for x, y in raw)
    return [(x / scale, (y - centre) / scale) for x, y in raw]


def _unit_cross(arm: float = 0.3) -> list[tuple[float, float]]:
    a, e = arm, 0.95 * math.sqrt(1 - arm * arm)  # arm ends stay inside the unit circle
    return [
        (-a, -e),
        (a, -e),
        (a, -a),
        (e, -a),
        (e, a),
        (a, a),
        (a, e),
        (-a, e),
        (-a, a),
        (-e, a),
        (-e, -a),
        (-a, -a),
    ]


# Each polygon fits in the unit circle around the origin (y down).
UNIT_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(-0.68, -0.68), (0.68, -0.68), (0.68, 0.68), (-0.68, 0.68)],
    "triangle": [(0.0, -0.95), (0.87, 0.55), (-0.87, 0.55)],
    "star": _unit_star(),
    "cross": _unit_cross(),
    "heart": _unit_heart(),
}


def object_polygon(obj: WorldObject, side: float) -> list[tuple[float, float]]:
    """The object's outline in pixels of an image ``side`` pixels wide (circles: 32-gon)."""
    cx, cy, r = obj.x * side, obj.y * side, obj.radius * side
    if obj.shape == "circle":
        return [
            (cx + r * math.cos(2 * math.pi * k / 32), cy + r * math.sin(2 * math.pi * k / 32))
            for k in range(32)
        ]
    cos_a, sin_a = math.cos(math.radians(obj.rotation)), math.sin(math.radians(obj.rotation))
    return [
        (cx + r * (u * cos_a - v * sin_a), cy + r * (u * sin_a + v * cos_a))
        for u, v in UNIT_POLYGONS[obj.shape]
    ]


def object_box(obj: WorldObject, size: int) -> tuple[int, int, int, int]:
    """The object's bounding box ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive."""
    points = object_polygon(obj, size)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (
        max(0, math.floor(min(xs))),
        max(0, math.floor(min(ys))),
        min(size, math.ceil(max(xs))),
        min(size, math.ceil(max(ys))),
    )


def object_rgb(obj: WorldObject) -> tuple[int, int, int]:
    """The fill colour of ``obj``: its colour's base value plus its tint, clipped to 0..255."""
    base = COLOUR_RGB[obj.colour]
    return tuple(min(255, max(0, b + t)) for b, t in zip(base, obj.tint, strict=True))


@lru_cache(maxsize=8)
def _texture_bank(side: int) -> tuple[Image.Image, ...]:
    """``TEXTURES`` light-grey backgrounds with smooth noise, fixed for each side length."""
    bank = []
    for index in range(TEXTURES):
        rng = np.random.default_rng(10_000 + index)
        base = rng.uniform(190, 225)
        tint = rng.uniform(-6, 6, size=3)
        coarse = rng.normal(0.0, 1.0, size=(6, 6)).astype(np.float32)
        smooth = Image.fromarray(coarse, mode="F").resize((side, side), Image.Resampling.BICUBIC)
        fine = rng.normal(0.0, 3.0, size=(side, side))
        field = np.asarray(smooth) * 9.0 + fine
        rgb = np.clip(base + tint[None, None, :] + field[:, :, None], 0, 255).astype(np.uint8)
        bank.append(Image.fromarray(rgb, mode="RGB"))
    return tuple(bank)


def render_scene(scene: Scene, size: int = 64, *, texture: bool = True) -> Image.Image:
    """Draw ``scene`` as a ``size`` x ``size`` RGB image."""
    side = size * SUPERSAMPLE
    if texture:
        canvas = _texture_bank(side)[scene.background % TEXTURES].copy()
    else:
        canvas = Image.new("RGB", (side, side), PLAIN_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        fill = object_rgb(obj)
        if obj.shape == "circle":
            cx, cy, r = obj.x * side, obj.y * side, obj.radius * side
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        else:
            draw.polygon(object_polygon(obj, side), fill=fill)
    return canvas.reduce(SUPERSAMPLE)


def png_bytes(image: Image.Image) -> bytes:
    """Encode ``image`` as PNG deterministically (no metadata, fixed compression)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
