"""Choosing what a scene's captions say: several true descriptions, varied in structure.

Like a human caption set, the captions of one image differ in what they mention: the full
inventory of objects, counts by shape or by colour, the number of objects, one spatial relation,
the most salient (largest) object, or one kind of object. The choice is made once per scene and
realised in every language, so captions are parallel across languages.

Like a human caption set, too, a scene's captions prefer what sets it apart: the inventory, a
spatial relation and the counts by shape and by colour come first; the largest object, one kind
of object and the bare number of objects ("There are three objects.", true of a quarter of all
scenes) only fill the set when nothing more specific is left. A caption true of many scenes
cannot find its own image among them, and caps what text → image retrieval can reach.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from vislang.data.world import frames as f
from vislang.data.world.languages import grammar
from vislang.data.world.scene import Scene, WorldObject, clear_relation


def _items(keys: list[tuple[str | None, str | None]]) -> tuple[f.Item, ...]:
    counts = Counter(keys)
    order = list(dict.fromkeys(keys))
    return tuple(f.Item(f.NP(shape=s, colour=c), counts[(c, s)]) for c, s in order)


def _left_to_right(scene: Scene) -> list[WorldObject]:
    return sorted(scene.objects, key=lambda o: (o.x, o.y))


def inventory(scene: Scene, rng: random.Random) -> f.Caption:
    """Every object by colour and shape: "There is a red circle and two blue squares."."""
    return f.Exists(_items([o.compound for o in _left_to_right(scene)]))


def shape_counts(scene: Scene, rng: random.Random) -> f.Caption:
    """Objects by shape only: "There are two circles and a star."."""
    return f.Exists(_items([(None, o.shape) for o in _left_to_right(scene)]))


def colour_counts(scene: Scene, rng: random.Random) -> f.Caption:
    """Objects by colour only: "There are two red objects and a blue object."."""
    return f.Exists(_items([(o.colour, None) for o in _left_to_right(scene)]))


def total(scene: Scene, rng: random.Random) -> f.Caption:
    """The number of objects: "There are three objects."."""
    return f.Total(len(scene.objects))


def unique_objects(scene: Scene) -> list[WorldObject]:
    """Objects whose (colour, shape) occurs once in the scene (they can be referred to)."""
    counts = scene.compounds()
    return [o for o in scene.objects if counts[o.compound] == 1]


def clear_pairs(scene: Scene) -> list[tuple[WorldObject, str, WorldObject]]:
    """Ordered pairs of uniquely describable objects with a clear relation between them."""
    unique = unique_objects(scene)
    pairs = []
    for a in unique:
        for b in unique:
            if a is not b and (relation := clear_relation(a, b)) is not None:
                pairs.append((a, relation, b))
    return pairs


def relation(scene: Scene, rng: random.Random) -> f.Caption | None:
    """One clear spatial relation: "A red circle is to the left of a blue square."."""
    pairs = clear_pairs(scene)
    if not pairs:
        return None
    a, rel, b = rng.choice(pairs)
    return f.Relation(f.NP(a.shape, a.colour), rel, f.NP(b.shape, b.colour))


def salient(scene: Scene, rng: random.Random) -> f.Caption:
    """The largest object with its size: "A large red circle."."""
    obj = max(scene.objects, key=lambda o: (o.radius, -o.x))
    return f.Phrase(f.NP(obj.shape, obj.colour, obj.size))


def one_kind(scene: Scene, rng: random.Random) -> f.Caption:
    """How many objects of one (colour, shape) there are: "There are two red circles."."""
    colour, shape = rng.choice(sorted(scene.compounds()))
    np = f.NP(shape, colour)
    return f.Exists((f.Item(np, np.count(scene)),))


CAPTION_KINDS: dict[str, Callable[[Scene, random.Random], f.Caption | None]] = {
    "inventory": inventory,
    "shape_counts": shape_counts,
    "colour_counts": colour_counts,
    "total": total,
    "relation": relation,
    "salient": salient,
    "one_kind": one_kind,
}


SPECIFICITY_ORDER: tuple[str, ...] = (
    "inventory",
    "relation",
    "shape_counts",
    "colour_counts",
    "relation",
    "salient",
    "relation",
    "one_kind",
    "total",
    "one_kind",
)
"""The order in which caption kinds are tried: the most specific first (see the module
docstring); relations and kinds of object recur because each draw may pick another one."""


def caption_frames(scene: Scene, rng: random.Random, n: int) -> list[tuple[str, f.Caption]]:
    """Up to ``n`` distinct true ``(kind, caption)`` pairs, tried in :data:`SPECIFICITY_ORDER`
    (a kind that does not apply, or repeats a chosen caption, is skipped)."""
    chosen: list[tuple[str, f.Caption]] = []
    for kind in SPECIFICITY_ORDER:
        if len(chosen) >= n:
            break
        frame = CAPTION_KINDS[kind](scene, rng)
        if frame is not None and all(frame != other for _, other in chosen):
            chosen.append((kind, frame))
    return chosen


def describe(scene: Scene, language: str, rng: random.Random, n: int = 5) -> list[str]:
    """``n`` captions of ``scene`` in ``language`` (same ``rng`` state, same content in every
    language)."""
    speak = grammar(language)
    return [speak.realise(frame) for _, frame in caption_frames(scene, rng, n)]
