"""Scenes: a few coloured shapes on a textured background, and how to sample them.

Coordinates are fractions of the image side (``x`` to the right, ``y`` down, both in [0, 1]), so one
scene renders at any resolution. An object's ``radius`` bounds its shape: every shape fits in the
circle of that radius around ``(x, y)``, and objects never overlap.

Spatial relations are defined on centres: ``a`` is left of ``b`` when ``a.x < b.x`` and above it
when ``a.y < b.y``. Texts state a relation only when it is clear (:func:`clear_relation`): the
offset along its axis dominates the other axis, so a reader never has to judge a diagonal.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from vislang.data.world.concepts import Compound
from vislang.data.world.config import WorldConfig

TEXTURES = 16
"""Number of background textures; a scene picks one by index."""

_RADIUS = {"small": (0.085, 0.105), "large": (0.15, 0.175)}
_FIXED_RADIUS = {"small": 0.095, "large": 0.16}
_GAP = 0.03  # minimum empty space between two objects, as a fraction of the side
_CLEAR_MARGIN = 0.08  # a relation is clear when its axis offset exceeds the other by this much


@dataclass(frozen=True, slots=True)
class WorldObject:
    """One shape in a scene; ``tint`` is a small RGB offset from the colour's base value."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    radius: float
    rotation: float = 0.0
    tint: tuple[int, int, int] = (0, 0, 0)

    @property
    def compound(self) -> Compound:
        """The object's ``(colour, shape)``."""
        return (self.colour, self.shape)

    def moved(self, dx: float, dy: float) -> WorldObject:
        """The same object shifted by ``(dx, dy)``."""
        return replace(self, x=round(self.x + dx, 4), y=round(self.y + dy, 4))


@dataclass(frozen=True, slots=True)
class Scene:
    """A picture's ground truth: its objects and background; ``parent`` for derived scenes."""

    id: str
    objects: tuple[WorldObject, ...]
    background: int = 0
    parent: str | None = None

    def compounds(self) -> Counter[Compound]:
        """How many objects of each ``(colour, shape)`` the scene holds."""
        return Counter(o.compound for o in self.objects)

    def to_dict(self) -> dict[str, Any]:
        """The scene as JSON-ready data (object boxes are added by the writer)."""
        return {
            "id": self.id,
            "parent": self.parent,
            "background": self.background,
            "objects": [
                {
                    "shape": o.shape,
                    "colour": o.colour,
                    "size": o.size,
                    "x": o.x,
                    "y": o.y,
                    "radius": o.radius,
                    "rotation": o.rotation,
                    "tint": list(o.tint),
                }
                for o in self.objects
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Rebuild a scene from :meth:`to_dict` output (extra keys such as ``bbox`` are ignored)."""
        objects = tuple(
            WorldObject(
                shape=o["shape"],
                colour=o["colour"],
                size=o["size"],
                x=float(o["x"]),
                y=float(o["y"]),
                radius=float(o["radius"]),
                rotation=float(o.get("rotation", 0.0)),
                tint=tuple(o.get("tint", (0, 0, 0))),
            )
            for o in data["objects"]
        )
        return cls(data["id"], objects, int(data.get("background", 0)), data.get("parent"))


def relation_holds(a: WorldObject, relation: str, b: WorldObject) -> bool:
    """Whether ``a`` stands in ``relation`` (left_of, right_of, above, below) to ``b``."""
    if relation == "left_of":
        return a.x < b.x
    if relation == "right_of":
        return a.x > b.x
    if relation == "above":
        return a.y < b.y
    if relation == "below":
        return a.y > b.y
    raise ValueError(f"unknown relation {relation!r}")


def clear_relation(a: WorldObject, b: WorldObject) -> str | None:
    """The relation of ``a`` to ``b`` when one axis clearly dominates, else ``None``."""
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dx) >= abs(dy) + _CLEAR_MARGIN:
        return "left_of" if dx > 0 else "right_of"
    if abs(dy) >= abs(dx) + _CLEAR_MARGIN:
        return "above" if dy > 0 else "below"
    return None


def fits(obj: WorldObject, others: Iterable[WorldObject]) -> bool:
    """Whether ``obj`` lies inside the image and keeps its distance from ``others``."""
    if not (obj.radius <= obj.x <= 1 - obj.radius and obj.radius <= obj.y <= 1 - obj.radius):
        return False
    for other in others:
        reach = obj.radius + other.radius + _GAP
        if (obj.x - other.x) ** 2 + (obj.y - other.y) ** 2 < reach * reach:
            return False
    return True


def sample_object(
    rng: random.Random,
    config: WorldConfig,
    others: tuple[WorldObject, ...],
    compound: Compound,
    size: str | None = None,
    tries: int = 200,
) -> WorldObject | None:
    """A new object of ``compound`` placed clear of ``others``, or ``None`` if none fits."""
    colour, shape = compound
    sizes = [size] if size else ["large", "small"] if rng.random() < 0.5 else ["small", "large"]
    for chosen in sizes:
        for _ in range(tries):
            if config.jitter:
                low, high = _RADIUS[chosen]
                radius = round(rng.uniform(low, high), 4)
                rotation = round(rng.uniform(-12.0, 12.0), 2)
                tint = (rng.randint(-14, 14), rng.randint(-14, 14), rng.randint(-14, 14))
            else:
                radius, rotation, tint = _FIXED_RADIUS[chosen], 0.0, (0, 0, 0)
            obj = WorldObject(
                shape=shape,
                colour=colour,
                size=chosen,
                x=round(rng.uniform(radius, 1 - radius), 4),
                y=round(rng.uniform(radius, 1 - radius), 4),
                radius=radius,
                rotation=rotation,
                tint=tint,
            )
            if fits(obj, others):
                return obj
    return None


def sample_scene(
    rng: random.Random,
    config: WorldConfig,
    scene_id: str = "scene",
    *,
    forbidden: frozenset[Compound] = frozenset(),
    required: Compound | None = None,
) -> Scene:
    """Sample a scene of ``config.min_objects``..``config.max_objects`` non-overlapping objects.

    ``forbidden`` compounds never occur; a ``required`` compound occurs at least once. When the
    image is too full for another object the scene keeps the objects placed so far.
    """
    allowed = [(c, s) for c in config.colours for s in config.shapes if (c, s) not in forbidden]
    wanted = rng.randint(config.min_objects, config.max_objects)
    objects: list[WorldObject] = []
    if required is not None:
        placed = sample_object(rng, config, (), required)
        assert placed is not None  # a single object always fits in an empty scene
        objects.append(placed)
    while len(objects) < wanted:
        placed = sample_object(rng, config, tuple(objects), rng.choice(allowed))
        if placed is None:
            break
        objects.append(placed)
    return Scene(scene_id, tuple(objects), rng.randrange(TEXTURES))
