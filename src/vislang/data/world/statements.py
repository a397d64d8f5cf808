"""True/false statements about a pair of scenes (NLVR2 and MaRVL style), balanced by label.

The left image is the scene itself, the right one another scene of the same split. For each
wanted label the generator draws statement frames until one has that label, so half of the
statements are true whenever both labels are reachable.
"""

from __future__ import annotations

import random

from vislang.data.world import frames as f
from vislang.data.world.concepts import Compound
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import Scene

_TRIES = 40


def _random_np(
    left: Scene,
    right: Scene,
    rng: random.Random,
    config: WorldConfig,
    forbidden: frozenset[Compound],
) -> f.NP:
    seen = sorted(left.compounds() | right.compounds())
    if rng.random() < 0.7 and seen:
        colour, shape = rng.choice(seen)
    else:
        colour, shape = rng.choice(
            [(c, s) for c in config.colours for s in config.shapes if (c, s) not in forbidden]
        )
    return f.NP(shape, colour)


def _candidate(
    left: Scene,
    right: Scene,
    rng: random.Random,
    config: WorldConfig,
    forbidden: frozenset[Compound],
) -> f.PairStatement:
    kind = rng.choice(("both", "one", "more"))
    if kind == "more":
        obj = rng.choice(left.objects + right.objects)
        np = f.NP(shape=obj.shape) if rng.random() < 0.5 else f.NP(colour=obj.colour)
        return f.MoreOnLeft(np)
    np = _random_np(left, right, rng, config, forbidden)
    return f.BothContain(np) if kind == "both" else f.OneContains(np)


def pair_statement_frames(
    left: Scene,
    right: Scene,
    rng: random.Random,
    config: WorldConfig,
    forbidden: frozenset[Compound],
    n: int,
) -> list[tuple[f.PairStatement, bool]]:
    """Up to ``n`` distinct ``(frame, label)`` pairs, labels alternating true/false."""
    first = rng.random() < 0.5
    out: list[tuple[f.PairStatement, bool]] = []
    for k in range(n):
        label = first if k % 2 == 0 else not first
        for _ in range(_TRIES):
            frame = _candidate(left, right, rng, config, forbidden)
            if f.pair_holds(frame, left, right) == label and all(frame != o for o, _ in out):
                out.append((frame, label))
                break
    return out
