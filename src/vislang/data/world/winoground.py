"""Winoground-style groups: two scenes and two captions with the same words in a different order.

Two kinds of minimal pair are built, each from two new scenes derived from a parent scene:

* ``object_swap``: "A red circle is to the left of a blue square." / "A blue square is to the
  left of a red circle." — the second scene swaps the two objects' places;
* ``attribute_swap``: "There is a red circle and a blue square." / "There is a blue circle and a red
  square." — the second scene swaps the two objects' colours.

Each caption is true of exactly one of the two scenes. A language joins a group only when its two
sentences consist of the same words (:func:`same_words`); where case or agreement changes word
forms (German cases, Swahili noun classes, Turkish suffixes) some pairs do not qualify.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace

from vislang.data.world import frames as f
from vislang.data.world.concepts import Compound
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import (
    TEXTURES,
    Scene,
    WorldObject,
    clear_relation,
    fits,
    sample_object,
)

WINOGROUND_KINDS: tuple[str, ...] = ("object_swap", "attribute_swap")
_WORD = re.compile(r"\w+", re.UNICODE)
_TRIES = 30


def words(text: str) -> Counter[str]:
    """The multiset of words of ``text``, case-folded; Han characters count one by one."""
    text = unicodedata.normalize("NFC", text).casefold()
    out: Counter[str] = Counter()
    for token in _WORD.findall(text):
        if any("\u4e00" <= ch <= "\u9fff" for ch in token):
            out.update(token)
        else:
            out[token] += 1
    return out


def same_words(first: str, second: str) -> bool:
    """Whether two sentences consist of the same words (Winoground's definition)."""
    return words(first) == words(second)


@dataclass(frozen=True)
class WinogroundPair:
    """Two scenes and two caption frames; ``captions[i]`` is true of ``scenes[i]`` only."""

    kind: str
    scenes: tuple[Scene, Scene]
    captions: tuple[f.Caption, f.Caption]


def _two_compounds(
    rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound], swap_colours: bool
) -> tuple[Compound, Compound]:
    while True:
        c1, c2 = rng.sample(list(config.colours), 2)
        s1, s2 = rng.sample(list(config.shapes), 2)
        needed = {(c1, s1), (c2, s2)} | ({(c2, s1), (c1, s2)} if swap_colours else set())
        if not needed & forbidden:
            return (c1, s1), (c2, s2)


def _with_distractor(
    rng: random.Random,
    config: WorldConfig,
    objects: tuple[WorldObject, ...],
    forbidden: frozenset[Compound],
    avoid_colours: set[str],
    avoid_shapes: set[str],
) -> tuple[WorldObject, ...]:
    """Maybe add one object sharing neither colour nor shape with the pair (captions unaffected)."""
    choices = [
        (c, s)
        for c in config.colours
        for s in config.shapes
        if c not in avoid_colours and s not in avoid_shapes and (c, s) not in forbidden
    ]
    if not choices or rng.random() < 0.5:
        return objects
    extra = sample_object(rng, config, objects, rng.choice(choices))
    return objects if extra is None else (*objects, extra)


def _swap_places(a: WorldObject, b: WorldObject) -> tuple[WorldObject, WorldObject]:
    return replace(a, x=b.x, y=b.y), replace(b, x=a.x, y=a.y)


def relation_pair(
    parent: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> WinogroundPair | None:
    """Two objects, then the same two with their places swapped."""
    for _ in range(_TRIES):
        first, second = _two_compounds(rng, config, forbidden, swap_colours=False)
        a = sample_object(rng, config, (), first, size="small")
        b = sample_object(rng, config, (a,), second, size="small") if a else None
        if a is None or b is None or (rel := clear_relation(a, b)) is None:
            continue
        a2, b2 = _swap_places(a, b)
        if not fits(a2, (b2,)):
            continue
        objects = _with_distractor(
            rng, config, (a, b), forbidden, {a.colour, b.colour}, {a.shape, b.shape}
        )
        swapped = (a2, b2, *objects[2:])
        scenes = (
            Scene(f"{parent.id}-w0", objects, rng.randrange(TEXTURES), parent.id),
            Scene(f"{parent.id}-w1", swapped, rng.randrange(TEXTURES), parent.id),
        )
        np_a, np_b = f.NP(a.shape, a.colour), f.NP(b.shape, b.colour)
        captions = (f.Relation(np_a, rel, np_b), f.Relation(np_b, rel, np_a))
        if _is_group(scenes, captions):
            return WinogroundPair("object_swap", scenes, captions)
    return None


def attribute_pair(
    parent: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> WinogroundPair | None:
    """Two objects, then the same two with their colours swapped."""
    for _ in range(_TRIES):
        first, second = _two_compounds(rng, config, forbidden, swap_colours=True)
        a = sample_object(rng, config, (), first)
        b = sample_object(rng, config, (a,), second) if a else None
        if a is None or b is None:
            continue
        objects = _with_distractor(
            rng, config, (a, b), forbidden, {a.colour, b.colour}, {a.shape, b.shape}
        )
        recoloured = (replace(a, colour=b.colour), replace(b, colour=a.colour), *objects[2:])
        scenes = (
            Scene(f"{parent.id}-w0", objects, rng.randrange(TEXTURES), parent.id),
            Scene(f"{parent.id}-w1", recoloured, rng.randrange(TEXTURES), parent.id),
        )
        items = (f.Item(f.NP(a.shape, a.colour)), f.Item(f.NP(b.shape, b.colour)))
        swapped = (f.Item(f.NP(a.shape, b.colour)), f.Item(f.NP(b.shape, a.colour)))
        captions = (f.Exists(items), f.Exists(swapped))
        if _is_group(scenes, captions):
            return WinogroundPair("attribute_swap", scenes, captions)
    return None


def _is_group(scenes: tuple[Scene, Scene], captions: tuple[f.Caption, f.Caption]) -> bool:
    return all(f.holds(captions[i], scenes[j]) == (i == j) for i in range(2) for j in range(2))


def winoground_pair(
    parent: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> WinogroundPair | None:
    """A group of either kind (chosen at random), or ``None`` if none could be built."""
    maker = relation_pair if rng.random() < 0.5 else attribute_pair
    return maker(parent, rng, config, forbidden)
