"""An independent reader of the world's English texts, for checking them against scene files.

It parses sentences with its own patterns and evaluates them on the scene JSON written next to
each image (``images/<id>.json``), using none of the generator's code: if the generator's
grammar or truth conditions drift, the two disagree and the tests fail.

Semantics checked (as documented in docs/world.md): "a X" in a list or existential means exactly
one X, a number means exactly that many, "several" two or more; "There is no X" none; a relation
holds between the two objects the descriptions pick out, left/right by centre x, above/below by
centre y (y grows downwards); a bare noun phrase ("A large red circle.") means some object fits.
"""

from __future__ import annotations

import re
from typing import Any

NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
SHAPE_WORDS = {
    "circle": "circle",
    "circles": "circle",
    "square": "square",
    "squares": "square",
    "triangle": "triangle",
    "triangles": "triangle",
    "star": "star",
    "stars": "star",
    "cross": "cross",
    "crosses": "cross",
    "heart": "heart",
    "hearts": "heart",
    "object": None,
    "objects": None,
}
COLOUR_WORDS = {"red", "orange", "yellow", "green", "blue", "purple", "brown", "black"}
SIZE_WORDS = {"small", "large"}
RELATIONS = {
    "to the left of": "left",
    "to the right of": "right",
    "above": "above",
    "below": "below",
}
NLVR_COLOURS = {"Yellow": "yellow", "Black": "black", "#0099ff": "blue"}

Objects = list[dict[str, Any]]


class Unparsed(ValueError):
    """A sentence outside the patterns this checker knows."""


def description(words: str) -> dict[str, str | None]:
    """ "large red circle" -> {"size": "large", "colour": "red", "shape": "circle"}."""
    tokens = words.split()
    if not tokens or tokens[-1] not in SHAPE_WORDS:
        raise Unparsed(words)
    out: dict[str, str | None] = {"size": None, "colour": None, "shape": SHAPE_WORDS[tokens[-1]]}
    for token in tokens[:-1]:
        if token in SIZE_WORDS:
            out["size"] = token
        elif token in COLOUR_WORDS:
            out["colour"] = token
        else:
            raise Unparsed(words)
    return out


def matches(obj: dict[str, Any], desc: dict[str, str | None]) -> bool:
    """Whether a scene object fits a description."""
    return all(desc[key] is None or obj[key] == desc[key] for key in ("size", "colour", "shape"))


def count(objects: Objects, desc: dict[str, str | None]) -> int:
    return sum(1 for o in objects if matches(o, desc))


def the(objects: Objects, desc: dict[str, str | None]) -> dict[str, Any]:
    """The one object fitting ``desc`` (a definite description must pick out exactly one)."""
    found = [o for o in objects if matches(o, desc)]
    if len(found) != 1:
        raise AssertionError(f"{desc} picks out {len(found)} objects")
    return found[0]


def relation_holds(a: dict[str, Any], relation: str, b: dict[str, Any]) -> bool:
    if relation == "left":
        return a["x"] < b["x"]
    if relation == "right":
        return a["x"] > b["x"]
    if relation == "above":
        return a["y"] < b["y"]
    return a["y"] > b["y"]


def _quantity(phrase: str) -> tuple[str, int | None]:
    """ "two red circles" -> ("red circles", 2); "a red circle" -> ("red circle", 1);
    "several red circles" -> ("red circles", None)."""
    first, _, rest = phrase.partition(" ")
    if first in ("a", "an"):
        return rest, 1
    if first == "several":
        return rest, None
    if first in NUMBERS:
        return rest, NUMBERS[first]
    if first.isdigit():
        return rest, int(first)
    raise Unparsed(phrase)


def _list_items(text: str) -> list[str]:
    head, sep, last = text.rpartition(" and ")
    return [*head.split(", "), last] if sep else [text]


_RELATION = re.compile(r"^an? (.+?) is (to the left of|to the right of|above|below) an? (.+)\.$")


def caption_true(sentence: str, objects: Objects) -> bool:
    """Evaluate an English caption or foil on a scene's objects."""
    s = sentence[0].lower() + sentence[1:]
    if m := re.fullmatch(r"there is no (.+)\.", s):
        return count(objects, description(m.group(1))) == 0
    if m := re.fullmatch(r"there (?:is|are) (.+)\.", s):
        for item in _list_items(m.group(1)):
            words, n = _quantity(item)
            found = count(objects, description(words))
            if (n is None and found < 2) or (n is not None and found != n):
                return False
        return True
    if m := _RELATION.fullmatch(s):
        a = the(objects, description(m.group(1)))
        b = the(objects, description(m.group(3)))
        return relation_holds(a, RELATIONS[m.group(2)], b)
    if m := re.fullmatch(r"an? (.+)\.", s):
        return count(objects, description(m.group(1))) > 0
    raise Unparsed(sentence)


def vqa_answer(question: str, objects: Objects) -> str:
    """The answer to an English question, computed from the scene."""
    if m := re.fullmatch(r"What colour is the (.+)\?", question):
        return the(objects, description(m.group(1)))["colour"]
    if m := re.fullmatch(r"What shape is the (.+)\?", question):
        return the(objects, description(m.group(1)))["shape"]
    if m := re.fullmatch(r"How many (.+) are there\?", question):
        return str(count(objects, description(m.group(1))))
    if m := re.fullmatch(r"Is there an? (.+)\?", question):
        return "yes" if count(objects, description(m.group(1))) else "no"
    pattern = r"Is the (.+?) (to the left of|to the right of|above|below) the (.+)\?"
    if m := re.fullmatch(pattern, question):
        a = the(objects, description(m.group(1)))
        b = the(objects, description(m.group(3)))
        return "yes" if relation_holds(a, RELATIONS[m.group(2)], b) else "no"
    raise Unparsed(question)


def pair_statement_true(statement: str, left: Objects, right: Objects) -> bool:
    """Evaluate an English statement about an image pair."""
    if m := re.fullmatch(r"Both images contain an? (.+)\.", statement):
        desc = description(m.group(1))
        return count(left, desc) > 0 and count(right, desc) > 0
    if m := re.fullmatch(r"Exactly one image contains an? (.+)\.", statement):
        desc = description(m.group(1))
        return (count(left, desc) > 0) != (count(right, desc) > 0)
    pattern = r"The left image contains more (.+) than the right image\."
    if m := re.fullmatch(pattern, statement):
        desc = description(m.group(1))
        return count(left, desc) > count(right, desc)
    raise Unparsed(statement)


def nlvr_boxes(structured_rep: list) -> list[Objects]:
    """NLVR boxes as object lists in this checker's vocabulary."""
    return [
        [{"shape": o["type"], "colour": NLVR_COLOURS[o["color"]], "size": None} for o in box]
        for box in structured_rep
    ]


def box_statement_true(statement: str, boxes: list[Objects]) -> bool:
    """Evaluate an English statement about NLVR's three boxes."""
    if m := re.fullmatch(r"There is a box with an? (.+)\.", statement):
        desc = description(m.group(1))
        return any(count(box, desc) for box in boxes)
    if m := re.fullmatch(r"There (?:is|are) exactly (\w+) (.+)\.", statement):
        desc = description(m.group(2))
        return sum(count(box, desc) for box in boxes) == NUMBERS[m.group(1)]
    if m := re.fullmatch(r"Every box contains an? (.+)\.", statement):
        desc = description(m.group(1))
        return all(count(box, desc) for box in boxes)
    raise Unparsed(statement)
