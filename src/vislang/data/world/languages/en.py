"""English: adjective order size–colour–noun, a/an, number agreement of noun and verb."""

from __future__ import annotations

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar

_SHAPES = {s: s for s in ("circle", "square", "triangle", "star", "cross", "heart")}
_PLURAL = {"cross": "crosses"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_RELATIONS = {
    "left_of": "to the left of",
    "right_of": "to the right of",
    "above": "above",
    "below": "below",
}
_DIRECTIONS = {"left": "to the left", "right": "to the right", "up": "up", "down": "down"}


def _noun(np: f.NP, plural: bool) -> str:
    noun = _SHAPES[np.shape] if np.shape else "object"
    return (_PLURAL.get(noun, noun + "s")) if plural else noun


def _bare(np: f.NP, plural: bool = False) -> str:
    words = [w for w in (np.size, np.colour) if w]
    return " ".join([*words, _noun(np, plural)])


def _number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _indefinite(np: f.NP) -> str:
    bare = _bare(np)
    return ("an " if bare[0] in "aeiou" else "a ") + bare


def _quantified(item: f.Item) -> str:
    if item.count == 1:
        return _indefinite(item.np)
    if item.count is None:
        return "several " + _bare(item.np, plural=True)
    return f"{_number(item.count)} {_bare(item.np, plural=True)}"


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class English(Grammar):
    """English grammar."""

    code = "en"
    name = "English"

    def exists(self, frame: f.Exists) -> str:
        verb = "is" if frame.items[0].count == 1 else "are"
        return self.sentence(f"there {verb} " + _listing([_quantified(i) for i in frame.items]))

    def absent(self, frame: f.Absent) -> str:
        return self.sentence(f"there is no {_bare(frame.np)}")

    def total(self, frame: f.Total) -> str:
        if frame.count == 1:
            return self.sentence("there is one object")
        return self.sentence(f"there are {_number(frame.count)} objects")

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"{_indefinite(frame.subject)} is {_RELATIONS[frame.relation]} "
            f"{_indefinite(frame.landmark)}"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence(_indefinite(frame.np))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"what colour is the {_bare(frame.np)}", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"what shape is the {_bare(frame.np)}", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(f"how many {_bare(frame.np, plural=True)} are there", "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"is there {_indefinite(frame.np)}", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        return self.sentence(
            f"is the {_bare(frame.subject)} {_RELATIONS[frame.relation]} "
            f"the {_bare(frame.landmark)}",
            "?",
        )

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"both images contain {_indefinite(frame.np)}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"exactly one image contains {_indefinite(frame.np)}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(
            f"the left image contains more {_bare(frame.np, plural=True)} than the right image"
        )

    def box_with(self, frame: f.BoxWith) -> str:
        return self.sentence(f"there is a box with {_indefinite(frame.np)}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        if frame.count == 1:
            return self.sentence(f"there is exactly one {_bare(frame.np)}")
        return self.sentence(
            f"there are exactly {_number(frame.count)} {_bare(frame.np, plural=True)}"
        )

    def every_box(self, frame: f.EveryBox) -> str:
        return self.sentence(f"every box contains {_indefinite(frame.np)}")

    def add(self, frame: f.Add) -> str:
        return f"add {_indefinite(frame.np)}"

    def remove(self, frame: f.Remove) -> str:
        return f"remove the {_bare(frame.np)}"

    def move(self, frame: f.Move) -> str:
        return f"move the {_bare(frame.np)} {_DIRECTIONS[frame.direction]}"

    def recolour(self, frame: f.Recolour) -> str:
        return f"paint the {_bare(frame.np)} {frame.colour}"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _bare(frame.np)

    def colour_answer(self, colour: str) -> str:
        return colour

    def shape_answer(self, shape: str) -> str:
        return _SHAPES[shape]

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "yes" if value else "no"
