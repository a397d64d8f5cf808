"""Meanings: what a caption, question, statement or action says, independent of any language.

The generator chooses frames from the scene graph and each grammar in
:mod:`vislang.data.world.languages` turns a frame into a sentence, so the texts of one scene are
parallel across languages. :func:`holds` and :func:`answer` give a frame's truth or answer in a
scene; the generator uses them to keep captions true, foils false and yes/no answers balanced.

Noun phrases and their quantities mean:

* ``Item(np, 1)``: exactly one object matches ``np``; ``Item(np, n)``: exactly ``n``;
  ``Item(np, None)``: several (two or more, number unstated).
* An :class:`NP` with no shape is "object"; with no colour it matches any colour.
* Relations hold between objects whose (colour, shape) is unique in the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

from vislang.data.world.scene import Scene, WorldObject, relation_holds


@dataclass(frozen=True, slots=True)
class NP:
    """A description of objects: any of shape, colour and size may be left open."""

    shape: str | None = None
    colour: str | None = None
    size: str | None = None

    def matches(self, obj: WorldObject) -> bool:
        """Whether ``obj`` fits the description."""
        return (
            (self.shape is None or obj.shape == self.shape)
            and (self.colour is None or obj.colour == self.colour)
            and (self.size is None or obj.size == self.size)
        )

    def count(self, scene: Scene) -> int:
        """How many objects of ``scene`` fit the description."""
        return sum(1 for o in scene.objects if self.matches(o))

    @property
    def compound(self) -> tuple[str, str] | None:
        """``(colour, shape)`` when both are given (compositional splits track these)."""
        return (self.colour, self.shape) if self.colour and self.shape else None


@dataclass(frozen=True, slots=True)
class Item:
    """A noun phrase with its quantity: an exact count, or ``None`` for "several"."""

    np: NP
    count: int | None = 1


# --- captions (also the material of foils and Winoground captions) --------------------------------


@dataclass(frozen=True, slots=True)
class Exists:
    """ "There is a red circle, two blue squares and several green stars." """

    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Absent:
    """ "There is no red circle." """

    np: NP


@dataclass(frozen=True, slots=True)
class Total:
    """ "There are three objects." """

    count: int


@dataclass(frozen=True, slots=True)
class Relation:
    """ "A red circle is to the left of a blue square." (both unique in the scene)"""

    subject: NP
    relation: str
    landmark: NP


@dataclass(frozen=True, slots=True)
class Phrase:
    """A bare noun phrase caption, "A large red circle." (some object fits it)"""

    np: NP


# --- questions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColourQuestion:
    """ "What colour is the circle?" (the only object of that shape)"""

    np: NP


@dataclass(frozen=True, slots=True)
class ShapeQuestion:
    """ "What shape is the red object?" (the only object of that colour)"""

    np: NP


@dataclass(frozen=True, slots=True)
class CountQuestion:
    """ "How many red circles are there?" """

    np: NP


@dataclass(frozen=True, slots=True)
class ExistsQuestion:
    """ "Is there a red circle?" """

    np: NP


@dataclass(frozen=True, slots=True)
class RelationQuestion:
    """ "Is the red circle to the left of the blue square?" """

    subject: NP
    relation: str
    landmark: NP


# --- statements about an image pair (NLVR2/MaRVL style) and about three boxes (NLVR) ------------


@dataclass(frozen=True, slots=True)
class BothContain:
    """ "Both images contain a red circle." """

    np: NP


@dataclass(frozen=True, slots=True)
class OneContains:
    """ "Exactly one image contains a red circle." """

    np: NP


@dataclass(frozen=True, slots=True)
class MoreOnLeft:
    """ "The left image contains more circles than the right image." """

    np: NP


@dataclass(frozen=True, slots=True)
class BoxWith:
    """ "There is a box with a yellow circle." """

    np: NP


@dataclass(frozen=True, slots=True)
class ExactlyTotal:
    """ "There are exactly two black squares." (over all three boxes)"""

    np: NP
    count: int


@dataclass(frozen=True, slots=True)
class EveryBox:
    """ "Every box contains a blue object." """

    np: NP


# --- actions (sequence steps) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Add:
    """ "add a red circle" """

    np: NP


@dataclass(frozen=True, slots=True)
class Remove:
    """ "remove the red circle" """

    np: NP


@dataclass(frozen=True, slots=True)
class Move:
    """ "move the red circle to the left" (direction: left, right, up, down)"""

    np: NP
    direction: str


@dataclass(frozen=True, slots=True)
class Recolour:
    """ "paint the red circle blue" """

    np: NP
    colour: str


@dataclass(frozen=True, slots=True)
class ConceptName:
    """The citation form of a concept, "red circle" (attribute norms name concepts so)."""

    np: NP


Caption = Exists | Absent | Total | Relation | Phrase
Question = ColourQuestion | ShapeQuestion | CountQuestion | ExistsQuestion | RelationQuestion
PairStatement = BothContain | OneContains | MoreOnLeft
BoxStatement = BoxWith | ExactlyTotal | EveryBox
Action = Add | Remove | Move | Recolour
Frame = Caption | Question | PairStatement | BoxStatement | Action | ConceptName


def _unique(np: NP, scene: Scene) -> WorldObject | None:
    found = [o for o in scene.objects if np.matches(o)]
    return found[0] if len(found) == 1 else None


def holds(frame: Caption, scene: Scene) -> bool:
    """Whether caption ``frame`` is true of ``scene``."""
    if isinstance(frame, Exists):
        for item in frame.items:
            n = item.np.count(scene)
            if (item.count is None and n < 2) or (item.count is not None and n != item.count):
                return False
        return True
    if isinstance(frame, Absent):
        return frame.np.count(scene) == 0
    if isinstance(frame, Total):
        return len(scene.objects) == frame.count
    if isinstance(frame, Relation):
        a, b = _unique(frame.subject, scene), _unique(frame.landmark, scene)
        return a is not None and b is not None and relation_holds(a, frame.relation, b)
    if isinstance(frame, Phrase):
        return frame.np.count(scene) > 0
    raise TypeError(f"not a caption frame: {frame!r}")


def answer(frame: Question, scene: Scene) -> str | int | bool:
    """The answer to question ``frame`` in ``scene``: a colour or shape id, a count or a bool.

    Raises ``ValueError`` when the question presupposes something false (e.g. asks the colour of
    "the circle" in a scene with two circles).
    """
    if isinstance(frame, (ColourQuestion, ShapeQuestion)):
        obj = _unique(frame.np, scene)
        if obj is None:
            raise ValueError(f"{frame} does not pick out one object")
        return obj.colour if isinstance(frame, ColourQuestion) else obj.shape
    if isinstance(frame, CountQuestion):
        return frame.np.count(scene)
    if isinstance(frame, ExistsQuestion):
        return frame.np.count(scene) > 0
    if isinstance(frame, RelationQuestion):
        a, b = _unique(frame.subject, scene), _unique(frame.landmark, scene)
        if a is None or b is None:
            raise ValueError(f"{frame} does not pick out two objects")
        return relation_holds(a, frame.relation, b)
    raise TypeError(f"not a question frame: {frame!r}")


def pair_holds(frame: PairStatement, left: Scene, right: Scene) -> bool:
    """Whether a statement about the image pair (``left``, ``right``) is true."""
    n_left, n_right = frame.np.count(left), frame.np.count(right)
    if isinstance(frame, BothContain):
        return n_left > 0 and n_right > 0
    if isinstance(frame, OneContains):
        return (n_left > 0) != (n_right > 0)
    if isinstance(frame, MoreOnLeft):
        return n_left > n_right
    raise TypeError(f"not a pair statement: {frame!r}")


def boxes_hold(frame: BoxStatement, boxes: tuple[Scene, ...]) -> bool:
    """Whether a statement about NLVR's three boxes (each given as a scene) is true."""
    counts = [frame.np.count(box) for box in boxes]
    if isinstance(frame, BoxWith):
        return any(counts)
    if isinstance(frame, ExactlyTotal):
        return sum(counts) == frame.count
    if isinstance(frame, EveryBox):
        return all(counts)
    raise TypeError(f"not a box statement: {frame!r}")
