"""Which split each scene belongs to, and which compounds a compositional world holds out.

* ``iid``: each scene falls in train, val or test at random (``config.split_fractions``).
* ``compositional``: a set of colour–shape compounds (``held_out``) never occurs in a train, val
  or test scene, nor in any text about one, while each colour and each shape still does (held-out
  compounds have distinct colours and distinct shapes). A share ``config.test_comp_fraction`` of
  the scenes is built around a held-out compound and forms the extra split ``test_comp``. The
  other scenes are split as in iid mode, so one compositional world gives both an iid test
  (``test``) and a compositional test (``test_comp``).

A scene's split depends only on the seed and its index, so any scene can be generated alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vislang.data.world.concepts import Compound
from vislang.data.world.config import WorldConfig

SPLITS: tuple[str, ...] = ("train", "val", "test", "test_comp")


def derived_rng(seed: int, index: int, purpose: str) -> random.Random:
    """An independent random stream for one scene and one purpose (same inputs, same stream)."""
    return random.Random(f"{seed}:{index}:{purpose}")


@dataclass(frozen=True)
class SplitPlan:
    """The split of every scene index and the held-out compounds of a world."""

    config: WorldConfig
    held_out: tuple[Compound, ...]

    @property
    def mode(self) -> str:
        """``"iid"`` or ``"compositional"``."""
        return self.config.split

    def split_of(self, index: int) -> str:
        """The split of scene ``index``."""
        u = derived_rng(self.config.seed, index, "split").random()
        if self.mode == "compositional":
            comp = self.config.test_comp_fraction
            if u < comp:
                return "test_comp"
            u = (u - comp) / (1.0 - comp) if comp < 1.0 else 0.0
        train, val, _ = self.config.split_fractions
        if u < train:
            return "train"
        return "val" if u < train + val else "test"

    def forbidden(self, split: str) -> frozenset[Compound]:
        """Compounds that scenes and texts of ``split`` must not contain."""
        return frozenset() if split == "test_comp" else frozenset(self.held_out)


def plan_splits(config: WorldConfig) -> SplitPlan:
    """The split plan of ``config``; held-out compounds are drawn from the seed when not given."""
    if config.split == "iid":
        return SplitPlan(config, ())
    if config.held_out_compounds is not None:
        return SplitPlan(config, tuple(config.held_out_compounds))
    rng = random.Random(f"{config.seed}:held-out")
    shapes = rng.sample(list(config.shapes), config.held_out_count)
    colours = rng.sample(list(config.colours), config.held_out_count)
    return SplitPlan(config, tuple(sorted(zip(colours, shapes, strict=True))))
