"""Is a generated English caption true of its synthetic-world scene?

:func:`english_caption_truth` reads an English sentence of the kinds the world's captions take
("There is a red circle and two blue squares.", "There are three objects.", "There is no green
star.", "A red circle is to the left of a blue square.", "A large red circle.") into a caption
frame (:mod:`vislang.data.world.frames`), accepts the reading only if the world's own English
grammar realises that frame as exactly the same sentence, and then evaluates it on the structured
scene with the world's own truth conditions (:func:`vislang.data.world.frames.holds`). A sentence
outside those forms (a drifting generation, an unknown word, a non-canonical wording) is
``"unparsed"``: neither true nor false.
"""

from __future__ import annotations

import re
from typing import Literal

from vislang.data.world import frames as f
from vislang.data.world.languages import grammar
from vislang.data.world.scene import Scene

Truth = Literal["true", "false", "unparsed"]

_NUMBERS = {
    word: value
    for value, word in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    )
}
_SHAPES = ("circle", "square", "triangle", "star", "cross", "heart")
_PLURALS = {"crosses": "cross", **{shape + "s": shape for shape in _SHAPES if shape != "cross"}}
_COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "black")
_SIZES = ("small", "large")
_RELATIONS = {
    "to the left of": "left_of",
    "to the right of": "right_of",
    "above": "above",
    "below": "below",
}
_RELATION = re.compile(
    r"^an? (?P<subject>.+?) is (?P<relation>to the left of|to the right of|above|below) "
    r"an? (?P<landmark>.+)$"
)


def english_caption_truth(caption: str, scene: Scene) -> Truth:
    """``"true"`` or ``"false"`` of ``scene`` when the caption reads as a world caption frame,
    ``"unparsed"`` otherwise; see the module docstring."""
    frame = parse_english_caption(caption)
    if frame is None:
        return "unparsed"
    return "true" if f.holds(frame, scene) else "false"


def parse_english_caption(caption: str) -> f.Caption | None:
    """The caption frame the world's English grammar realises as exactly ``caption``, or
    ``None``."""
    text = caption.strip()
    if not text.endswith(".") or len(text) < 2:
        return None
    frame = _read(text[0].lower() + text[1:-1])
    if frame is None or grammar("en").realise(frame) != text:
        return None
    return frame


def _read(clause: str) -> f.Caption | None:
    if clause.startswith("there is no "):
        np = _bare(clause.removeprefix("there is no "), plural=False)
        return None if np is None else f.Absent(np)
    total = re.fullmatch(r"there (?:is|are) (\w+) objects?", clause)
    if total and total.group(1) in _NUMBERS:
        return f.Total(_NUMBERS[total.group(1)])
    for opening in ("there is ", "there are "):
        if clause.startswith(opening):
            items = [_item(part) for part in _split_list(clause.removeprefix(opening))]
            return None if not items or None in items else f.Exists(tuple(items))  # type: ignore[arg-type]
    relation = _RELATION.fullmatch(clause)
    if relation:
        subject, landmark = _bare(relation["subject"]), _bare(relation["landmark"])
        if subject is None or landmark is None:
            return None
        return f.Relation(subject, _RELATIONS[relation["relation"]], landmark)
    for article in ("a ", "an "):
        if clause.startswith(article):
            np = _bare(clause.removeprefix(article))
            return None if np is None else f.Phrase(np)
    return None


def _split_list(text: str) -> list[str]:
    """``"a, b and c"`` → ``["a", "b", "c"]``."""
    head, _, last = text.rpartition(" and ")
    return [*head.split(", "), last] if head else [text]


def _item(text: str) -> f.Item | None:
    quantity, _, rest = text.partition(" ")
    if quantity in ("a", "an"):
        np = _bare(rest)
        return None if np is None else f.Item(np, 1)
    if quantity == "several":
        np = _bare(rest, plural=True)
        return None if np is None else f.Item(np, None)
    count = _NUMBERS.get(quantity, int(quantity) if quantity.isdigit() else None)
    np = _bare(rest, plural=True)
    return None if np is None or count is None else f.Item(np, count)


def _bare(text: str, plural: bool = False) -> f.NP | None:
    """``[size] [colour] noun`` (noun a shape or "object", plural when asked)."""
    words = text.split(" ")
    size = words.pop(0) if words and words[0] in _SIZES else None
    colour = words.pop(0) if words and words[0] in _COLOURS else None
    if len(words) != 1:
        return None
    noun = words[0]
    if plural:
        shape = "object" if noun == "objects" else _PLURALS.get(noun)
    else:
        shape = noun if noun in (*_SHAPES, "object") else None
    if shape is None:
        return None
    return f.NP(shape=None if shape == "object" else shape, colour=colour, size=size)


__all__ = ["english_caption_truth", "parse_english_caption"]
