"""Sequences (CompAct style): three steps of a scene changing by actions, and the next action.

A routine fixes a pattern that the next step continues, so the target is predictable from the
steps together with the last image:

* ``clear``: remove the objects one by one from left to right; the target removes the last one
  (which object is left is visible only in the image);
* ``paint``: paint the objects one colour one by one from left to right;
* ``move``: move the objects one by one from left to right in one direction;
* ``flash``: add an object and remove it again, add another; the target removes it.

Each step is the scene after its action and the action's description; the target is the next
description, with its atoms (``verb``, ``object`` and ``colour``/``direction`` where they apply).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from vislang.data.world import frames as f
from vislang.data.world.concepts import DIRECTIONS, Compound
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import TEXTURES, Scene, WorldObject, fits, sample_object

ROUTINES: tuple[str, ...] = ("clear", "paint", "move", "flash")
_STEP = 0.14  # how far one move goes, as a fraction of the side
_DELTAS = {"left": (-_STEP, 0.0), "right": (_STEP, 0.0), "up": (0.0, -_STEP), "down": (0.0, _STEP)}
_VERBS = {f.Add: "add", f.Remove: "remove", f.Move: "move", f.Recolour: "recolour"}


@dataclass(frozen=True)
class SequencePlan:
    """A routine's three steps (scene after each action, action) and the target action."""

    routine: str
    steps: tuple[tuple[Scene, f.Action], ...]
    target: f.Action

    def target_atoms(self) -> dict[str, str]:
        """The target's verb and object (and colour or direction), as English ids."""
        atoms = {
            "verb": _VERBS[type(self.target)],
            "object": f"{self.target.np.colour} {self.target.np.shape}",
        }
        if isinstance(self.target, f.Recolour):
            atoms["colour"] = self.target.colour
        if isinstance(self.target, f.Move):
            atoms["direction"] = self.target.direction
        return atoms


def _np(obj: WorldObject) -> f.NP:
    return f.NP(obj.shape, obj.colour)


def _four_objects(
    rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound], avoid_colour: str = ""
) -> list[WorldObject] | None:
    """Four objects of distinct shapes (so descriptions stay unique), sorted left to right."""
    if len(config.shapes) < 4:
        return None
    objects: list[WorldObject] = []
    for shape in rng.sample(list(config.shapes), 4):
        colours = [c for c in config.colours if c != avoid_colour and (c, shape) not in forbidden]
        placed = sample_object(rng, config, tuple(objects), (rng.choice(colours), shape))
        if placed is None:
            return None
        objects.append(placed)
    return sorted(objects, key=lambda o: o.x)


def _apply(objects: list[WorldObject], action: f.Action, new: WorldObject | None) -> bool:
    """Change ``objects`` in place by ``action``; ``False`` if the result would not fit."""
    if isinstance(action, f.Add):
        assert new is not None
        objects.append(new)
        return True
    index = next(i for i, o in enumerate(objects) if action.np.matches(o))
    if isinstance(action, f.Remove):
        del objects[index]
    elif isinstance(action, f.Recolour):
        objects[index] = replace(objects[index], colour=action.colour)
    else:
        dx, dy = _DELTAS[action.direction]
        moved = objects[index].moved(dx, dy)
        if not fits(moved, objects[:index] + objects[index + 1 :]):
            return False
        objects[index] = moved
    return True


def _routine_actions(
    routine: str, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> tuple[list[WorldObject], list[tuple[f.Action, WorldObject | None]]] | None:
    """The starting objects and four actions (the fourth is the target)."""
    if routine == "flash":
        start = _four_objects(rng, config, forbidden)
        if start is None:
            return None
        start = start[: rng.randint(1, 2)]
        present = {o.compound for o in start}
        fresh = [
            (c, s)
            for c in config.colours
            for s in config.shapes
            if (c, s) not in forbidden and (c, s) not in present
        ]
        first, second = rng.sample(fresh, 2)
        a = sample_object(rng, config, tuple(start), first)
        b = sample_object(rng, config, tuple(start), second)
        if a is None or b is None:
            return None
        return start, [
            (f.Add(_np(a)), a),
            (f.Remove(_np(a)), None),
            (f.Add(_np(b)), b),
            (f.Remove(_np(b)), None),
        ]
    if routine == "paint":
        colour = rng.choice(config.colours)
        start = _four_objects(rng, config, forbidden, avoid_colour=colour)
        if start is None or any((colour, o.shape) in forbidden for o in start):
            return None
        return start, [(f.Recolour(_np(o), colour), None) for o in start]
    start = _four_objects(rng, config, forbidden)
    if start is None:
        return None
    if routine == "clear":
        return start, [(f.Remove(_np(o)), None) for o in start]
    direction = rng.choice(DIRECTIONS)
    return start, [(f.Move(_np(o), direction), None) for o in start]


def sequence_plan(
    parent: Scene, rng: random.Random, config: WorldConfig, forbidden: frozenset[Compound]
) -> SequencePlan | None:
    """A sequence derived from ``parent`` (its step scenes are ``<parent>-q1`` … ``-q3``)."""
    for _ in range(10):
        routine = rng.choice(ROUTINES)
        made = _routine_actions(routine, rng, config, forbidden)
        if made is None:
            continue
        objects, actions = made
        background = rng.randrange(TEXTURES)
        steps = []
        for k, (action, new) in enumerate(actions[:3], start=1):
            if not _apply(objects, action, new):
                break
            steps.append(
                (Scene(f"{parent.id}-q{k}", tuple(objects), background, parent.id), action)
            )
        target = actions[3][0]
        if len(steps) == 3 and _apply(list(objects), target, actions[3][1]):
            return SequencePlan(routine, tuple(steps), target)
    return None
