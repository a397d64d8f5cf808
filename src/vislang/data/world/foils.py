"""Foils in the VALSE sense: a true caption and a minimally different false one.

Each phenomenon changes one thing:

* existence: "There are two red circles." → "There is no red circle.", or "There is no red
  star." → "There are two red stars.";
* plurality: "There is a red circle." (exactly one) → "There are several red circles.", or
  "There are several circles." (two or more) → "There is a circle.";
* counting: "There are two circles." → "There are three circles." or "There is a circle."
  (numbers are exact, so a smaller number is as false as a larger one);
* spatial_relation: "A red circle is to the left of a blue square." → "… to the right of …";
* attribute_swap: "There is a red circle and a blue square." → "There is a blue circle and a red
  square.";
* noun_replacement: "There is a red circle." → "There is a red star.".

Every pair is checked with :func:`frames.holds`: the caption true, the foil false.

Only the image should tell a caption from its foil, so no wording may be more common on one side.
Counting, plurality and existence first pick from the scene what both sentences are made of, then
a fair coin decides which of the two is the true one; the pair is thereby exchangeable, and a
text-only model finds the smaller number, "several" or "no" in the caption half the time:

* counting needs two descriptions of one kind (colour and shape, shape alone, or colour alone)
  that fit different numbers of objects, ``a`` and ``b``; the caption states the number of a
  description that fits ``a`` (or ``b``) objects and the foil the other number, so over a world
  captions and foils state the same numbers equally often (VALSE's balanced counting subset is
  the precedent);
* plurality needs a description that fits exactly one object and one of the same kind that fits
  several; the caption says of one of them what is true, the foil the other quantity;
* existence needs a compound present and one absent; both directions state the number of the
  present compound, so the number says nothing about which sentence is negated.

Keeping the kind fixed keeps the words around the number from telling the direction ("objects"
goes with larger counts than "red circles"). The price: only scenes with such descriptions get
counting and plurality foils (none of fewer than three objects; about a third of scenes of one to
four objects).

Relations need no coin: a clear relation of A to B comes with the opposite relation of B to A, so
captions and foils use each relation equally often. Attribute swaps and noun replacements draw
caption and foil words from the same colours and shapes, except in ``test_comp`` scenes, which
hold a held-out compound: there the caption names it more often than the foil.
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


def _descriptions(scene: Scene) -> list[dict[f.NP, int]]:
    """Per kind of description (colour and shape, shape alone, colour alone): how many objects of
    ``scene`` each description of that kind fits (descriptions that fit none left out)."""
    kinds: list[dict[f.NP, int]] = [{}, {}, {}]
    for obj in scene.objects:
        for counts, np in zip(
            kinds,
            (f.NP(obj.shape, obj.colour), f.NP(shape=obj.shape), f.NP(colour=obj.colour)),
            strict=True,
        ):
            counts[np] = counts.get(np, 0) + 1
    return kinds


def existence(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """Present ↔ absent, the number stated that of a compound present."""
    counts = scene.compounds()
    absent = [c for c in _allowed(config, forbidden) if c not in counts]
    if not absent:
        return None
    colour, shape = rng.choice(sorted(counts))
    n = counts[(colour, shape)]
    if rng.random() < 0.5:
        np = f.NP(shape, colour)
        return f.Exists((f.Item(np, n),)), f.Absent(np)
    colour, shape = rng.choice(absent)
    np = f.NP(shape, colour)
    return f.Absent(np), f.Exists((f.Item(np, n),))


def plurality(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """Exactly one → several, or several → exactly one."""
    kinds = [
        counts
        for counts in _descriptions(scene)
        if min(counts.values()) == 1 and max(counts.values()) > 1
    ]
    if not kinds:
        return None
    counts = rng.choice(kinds)
    true: int | None
    false: int | None
    if rng.random() < 0.5:
        np, true, false = rng.choice([np for np, n in counts.items() if n == 1]), 1, None
    else:
        np, true, false = rng.choice([np for np, n in counts.items() if n > 1]), None, 1
    return f.Exists((f.Item(np, true),)), f.Exists((f.Item(np, false),))


def counting(
    scene: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> FoilPair | None:
    """n → the number of another description of the same kind, smaller or larger."""
    options = []
    for counts in _descriptions(scene):
        numbers = sorted(set(counts.values()))
        options += [(counts, a, b) for i, a in enumerate(numbers) for b in numbers[i + 1 :]]
    if not options:
        return None
    counts, a, b = rng.choice(options)
    true, false = (a, b) if rng.random() < 0.5 else (b, a)
    np = rng.choice([np for np, n in counts.items() if n == true])
    return f.Exists((f.Item(np, true),)), f.Exists((f.Item(np, false),))


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
