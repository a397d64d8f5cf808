"""Visual questions about a scene: colour, shape, count, existence and relation.

Yes/no questions are balanced: an existence question asks about a present or an absent compound
with equal probability, a relation question states the true relation or its opposite with equal
probability. Counting questions may have the answer 0.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from vislang.data.world import frames as f
from vislang.data.world.captions import clear_pairs
from vislang.data.world.concepts import OPPOSITE_RELATION, Compound
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import Scene

QUESTION_TYPES: tuple[str, ...] = ("colour", "shape", "count", "existence", "relation")


def _allowed(config: WorldConfig, forbidden: frozenset[Compound]) -> list[Compound]:
    return [(c, s) for c in config.colours for s in config.shapes if (c, s) not in forbidden]


def colour(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> f.Question | None:
    """ "What colour is the circle?" about a shape that occurs once."""
    counts = Counter(o.shape for o in scene.objects)
    shapes = sorted(s for s, n in counts.items() if n == 1)
    return f.ColourQuestion(f.NP(shape=rng.choice(shapes))) if shapes else None


def shape(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> f.Question | None:
    """ "What shape is the red object?" about a colour that occurs once."""
    counts = Counter(o.colour for o in scene.objects)
    colours = sorted(c for c, n in counts.items() if n == 1)
    return f.ShapeQuestion(f.NP(colour=rng.choice(colours))) if colours else None


def count(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> f.Question:
    """ "How many red circles / circles / red objects / objects are there?"."""
    kind = rng.choice(("compound", "shape", "colour", "all"))
    if kind == "all":
        return f.CountQuestion(f.NP())
    if kind == "compound":
        colour_name, shape_name = rng.choice(_allowed(config, forbidden))
        return f.CountQuestion(f.NP(shape_name, colour_name))
    obj = rng.choice(scene.objects)
    if kind == "shape":
        return f.CountQuestion(f.NP(shape=obj.shape))
    return f.CountQuestion(f.NP(colour=obj.colour))


def existence(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> f.Question | None:
    """ "Is there a red circle?", answer yes or no with equal probability."""
    counts = scene.compounds()
    present = sorted(counts)
    absent = [c for c in _allowed(config, forbidden) if c not in counts]
    pool = present if (rng.random() < 0.5 or not absent) else absent
    colour_name, shape_name = rng.choice(pool)
    return f.ExistsQuestion(f.NP(shape_name, colour_name))


def relation(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> f.Question | None:
    """ "Is the red circle to the left of the blue square?", true or false equally often."""
    pairs = clear_pairs(scene)
    if not pairs:
        return None
    a, rel, b = rng.choice(pairs)
    if rng.random() < 0.5:
        rel = OPPOSITE_RELATION[rel]
    return f.RelationQuestion(f.NP(a.shape, a.colour), rel, f.NP(b.shape, b.colour))


QUESTION_MAKERS: dict[
    str, Callable[[Scene, random.Random, WorldConfig, frozenset[Compound]], f.Question | None]
] = {
    "colour": colour,
    "shape": shape,
    "count": count,
    "existence": existence,
    "relation": relation,
}


def question_frames(
    scene: Scene,
    rng: random.Random,
    config: WorldConfig,
    forbidden: frozenset[Compound],
    n: int,
) -> list[tuple[str, f.Question]]:
    """Up to ``n`` distinct ``(question_type, frame)`` pairs, the types in random order."""
    types = list(QUESTION_TYPES)
    rng.shuffle(types)
    chosen: list[tuple[str, f.Question]] = []
    for attempt in range(3 * max(n, 1)):
        if len(chosen) >= n:
            break
        kind = types[attempt % len(types)]
        frame = QUESTION_MAKERS[kind](scene, rng, config, forbidden)
        if frame is not None and all(frame != other for _, other in chosen):
            chosen.append((kind, frame))
    return chosen
