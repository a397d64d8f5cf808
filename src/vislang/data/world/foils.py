"""Foils in the VALSE sense: a true caption and a minimally different false one.

Each phenomenon changes one thing, in the direction that keeps the foil false under any reading:

* existence: "There are two red circles." → "There is no red circle." (or the reverse for an
  absent compound);
* plurality: "There is a red circle." (exactly one) → "There are several red circles.";
* counting: "There are two circles." → "There are three circles." (always more, so that an
  "at least" reading is false too);
* spatial_relation: "A red circle is to the left of a blue square." → "… to the right of …";
* attribute_swap: "There is a red circle and a blue square." → "There is a blue circle and a red
  square.";
* noun_replacement: "There is a red circle." → "There is a red star.".

Every pair is checked with :func:`frames.holds`: the caption true, the foil false.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from vislang.data.world import frames as f
from vislang.data.world.captions import clear_pairs, unique_objects
from vislang.data.world.concepts import OPPOSITE_RELATION, Compound
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import Scene

PHENOMENA: tuple[str, ...] = (
    "existence",
    "plurality",
    "counting",
    "spatial_relation",
    "attribute_swap",
    "noun_replacement",
)

FoilPair = tuple[f.Caption, f.Caption]


def _allowed(config: WorldConfig, forbidden: frozenset[Compound]) -> list[Compound]:
    return [(c, s) for c in config.colours for s in config.shapes if (c, s) not in forbidden]


def existence(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """Present ↔ absent."""
    counts = scene.compounds()
    absent = [c for c in _allowed(config, forbidden) if c not in counts]
    if rng.random() < 0.5 or not absent:
        colour, shape = rng.choice(sorted(counts))
        np = f.NP(shape, colour)
        return f.Exists((f.Item(np, np.count(scene)),)), f.Absent(np)
    colour, shape = rng.choice(absent)
    np = f.NP(shape, colour)
    return f.Absent(np), f.Exists((f.Item(np, 1),))


def plurality(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """Exactly one → several."""
    single = unique_objects(scene)
    if not single:
        return None
    obj = rng.choice(single)
    np = f.NP(obj.shape, obj.colour)
    return f.Exists((f.Item(np, 1),)), f.Exists((f.Item(np, None),))


def counting(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """n → a larger number."""
    obj = rng.choice(scene.objects)
    np = rng.choice((f.NP(obj.shape, obj.colour), f.NP(shape=obj.shape), f.NP(colour=obj.colour)))
    n = np.count(scene)
    return f.Exists((f.Item(np, n),)), f.Exists((f.Item(np, n + rng.randint(1, 2)),))


def spatial_relation(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """A relation → its opposite."""
    pairs = clear_pairs(scene)
    if not pairs:
        return None
    a, rel, b = rng.choice(pairs)
    subject, landmark = f.NP(a.shape, a.colour), f.NP(b.shape, b.colour)
    return f.Relation(subject, rel, landmark), f.Relation(subject, OPPOSITE_RELATION[rel], landmark)


def attribute_swap(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """The colours of two objects swapped."""
    single = unique_objects(scene)
    pairs = [
        (a, b)
        for a in single
        for b in single
        if a.colour != b.colour
        and a.shape != b.shape
        and (b.colour, a.shape) not in forbidden
        and (a.colour, b.shape) not in forbidden
    ]
    rng.shuffle(pairs)
    for a, b in pairs:
        caption = f.Exists((f.Item(f.NP(a.shape, a.colour)), f.Item(f.NP(b.shape, b.colour))))
        foil = f.Exists((f.Item(f.NP(a.shape, b.colour)), f.Item(f.NP(b.shape, a.colour))))
        if not f.holds(foil, scene):
            return caption, foil
    return None


def noun_replacement(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """One shape noun replaced by another that the scene lacks in that colour."""
    obj = rng.choice(scene.objects)
    np = f.NP(obj.shape, obj.colour)
    others = [
        s
        for s in config.shapes
        if s != obj.shape
        and (obj.colour, s) not in forbidden
        and f.NP(s, obj.colour).count(scene) == 0
    ]
    if not others:
        return None
    replaced = f.NP(rng.choice(others), obj.colour)
    n = np.count(scene)
    return f.Exists((f.Item(np, n),)), f.Exists((f.Item(replaced, n),))


FOIL_MAKERS: dict[
    str, Callable[[Scene, random.Random, WorldConfig, frozenset[Compound]], FoilPair | None]
] = {
    "existence": existence,
    "plurality": plurality,
    "counting": counting,
    "spatial_relation": spatial_relation,
    "attribute_swap": attribute_swap,
    "noun_replacement": noun_replacement,
}


def foil_frames(
    scene: Scene,
    rng: random.Random,
    config: WorldConfig,
    forbidden: frozenset[Compound],
    n: int,
) -> list[tuple[str, f.Caption, f.Caption]]:
    """Up to ``n`` ``(phenomenon, caption, foil)`` triples of distinct phenomena."""
    phenomena = list(PHENOMENA)
    rng.shuffle(phenomena)
    out: list[tuple[str, f.Caption, f.Caption]] = []
    for phenomenon in phenomena:
        if len(out) >= n:
            break
        made = FOIL_MAKERS[phenomenon](scene, rng, config, forbidden)
        if made is None:
            continue
        caption, foil = made
        if f.holds(caption, scene) and not f.holds(foil, scene):
            out.append((phenomenon, caption, foil))
    return out
