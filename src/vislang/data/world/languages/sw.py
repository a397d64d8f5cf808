"""Swahili: noun classes, with agreement of adjectives, numerals, connectives and verbs.

Shapes fall in classes 3/4 (mduara/miduara, mraba, msalaba, moyo/mioyo) and 9/10 (pembetatu,
nyota); "kitu" (thing) and "kisanduku" (box) in 7/8, "picha" (picture) in 9/10. Adjectives
(-kubwa, -dogo, -ekundu, -eusi), numerals (-moja … -tano), -ngapi, -ingi and -enye take the
class prefix; the other colours are nouns joined by the connective -a ("mraba wa bluu", "nyota ya
njano"). Word order is noun, quantity, size, colour; verbs agree with their subject ("uko", "ina").
"""

from __future__ import annotations

from dataclasses import dataclass

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar


@dataclass(frozen=True)
class _Noun:
    singular: str
    plural: str
    noun_class: int  # the singular's class; the plural's is noun_class + 1

    def form(self, plural: bool) -> tuple[str, int]:
        return (self.plural, self.noun_class + 1) if plural else (self.singular, self.noun_class)


_NOUNS = {
    "circle": _Noun("mduara", "miduara", 3),
    "square": _Noun("mraba", "miraba", 3),
    "triangle": _Noun("pembetatu", "pembetatu", 9),
    "star": _Noun("nyota", "nyota", 9),
    "cross": _Noun("msalaba", "misalaba", 3),
    "heart": _Noun("moyo", "mioyo", 3),
    None: _Noun("kitu", "vitu", 7),
}
_BOX = _Noun("kisanduku", "visanduku", 7)

# Class prefixes before consonant-initial and vowel-initial stems.
_ADJ_PREFIX = {
    3: ("m", "mw"),
    4: ("mi", "my"),
    7: ("ki", "ch"),
    8: ("vi", "vy"),
    9: ("", "ny"),
    10: ("", "ny"),
}
_NASAL_STEMS = {"dogo": "ndogo"}  # class 9/10 N- before d
_CONNECTIVE = {3: "wa", 4: "ya", 7: "cha", 8: "vya", 9: "ya", 10: "za"}
_SUBJECT = {3: "u", 4: "i", 7: "ki", 8: "vi", 9: "i", 10: "zi"}
_HAVING = {3: "wenye", 4: "yenye", 7: "chenye", 8: "vyenye", 9: "yenye", 10: "zenye"}
_MANY = {4: "mingi", 8: "vingi", 10: "nyingi"}  # -ingi: the prefix vowel merges with i-
_NUMERAL_PREFIX = {3: "m", 4: "mi", 7: "ki", 8: "vi", 9: "", 10: ""}
_NUMERAL_STEMS = ("", "moja", "wili", "tatu", "nne", "tano")
_CLASS10_NUMERALS = {2: "mbili"}
_INVARIANT_NUMERALS = ("sita", "saba", "nane", "tisa", "kumi")

_AGREEING_COLOURS = {"red": "ekundu", "black": "eusi"}
_COLOUR_NOUNS = {
    "orange": "machungwa",
    "yellow": "njano",
    "green": "kijani",
    "blue": "bluu",
    "purple": "zambarau",
    "brown": "kahawia",
}
_SIZES = {"large": "kubwa", "small": "dogo"}
_RELATIONS = {
    "left_of": "kushoto kwa",
    "right_of": "kulia kwa",
    "above": "juu ya",
    "below": "chini ya",
}
_DIRECTIONS = {"left": "kushoto", "right": "kulia", "up": "juu", "down": "chini"}


def adjective(stem: str, noun_class: int) -> str:
    """An adjective agreeing with ``noun_class``: ("ekundu", 3) -> "mwekundu"."""
    if noun_class in (9, 10) and stem in _NASAL_STEMS:
        return _NASAL_STEMS[stem]
    before_consonant, before_vowel = _ADJ_PREFIX[noun_class]
    return (before_vowel if stem[0] in "aeiou" else before_consonant) + stem


def colour(name: str, noun_class: int) -> str:
    """A colour modifying a noun of ``noun_class``: "mwekundu", or "wa bluu"."""
    if name in _AGREEING_COLOURS:
        return adjective(_AGREEING_COLOURS[name], noun_class)
    return f"{_CONNECTIVE[noun_class]} {_COLOUR_NOUNS[name]}"


def numeral(n: int, noun_class: int) -> str:
    """A numeral agreeing with ``noun_class``: (2, 4) -> "miwili", (2, 10) -> "mbili"."""
    if n >= 6:
        return _INVARIANT_NUMERALS[n - 6] if n <= 10 else str(n)
    if noun_class == 10 and n in _CLASS10_NUMERALS:
        return _CLASS10_NUMERALS[n]
    return _NUMERAL_PREFIX[noun_class] + _NUMERAL_STEMS[n]


def _np(np: f.NP, plural: bool = False, quantity: str = "") -> tuple[str, int]:
    """Noun, quantity word, size, colour: ("miraba miwili ya bluu", 4)."""
    noun, noun_class = _NOUNS[np.shape].form(plural)
    words = [noun]
    if quantity:
        words.append(quantity)
    if np.size:
        words.append(adjective(_SIZES[np.size], noun_class))
    if np.colour:
        words.append(colour(np.colour, noun_class))
    return " ".join(words), noun_class


def _quantified(item: f.Item) -> str:
    if item.count == 1:
        return _np(item.np)[0]
    if item.count is None:
        return _np(item.np, plural=True)[0]
    plural_class = _NOUNS[item.np.shape].noun_class + 1
    return _np(item.np, plural=True, quantity=numeral(item.count, plural_class))[0]


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " na " + parts[-1]


class Swahili(Grammar):
    """Swahili grammar."""

    code = "sw"
    name = "Swahili"

    def exists(self, frame: f.Exists) -> str:
        return self.sentence("kuna " + _listing([_quantified(i) for i in frame.items]))

    def absent(self, frame: f.Absent) -> str:
        return self.sentence("hakuna " + _np(frame.np)[0])

    def total(self, frame: f.Total) -> str:
        noun = _NOUNS[None]
        plural = frame.count != 1
        quantity = numeral(frame.count, noun.noun_class + (1 if plural else 0))
        return self.sentence("kuna " + _np(f.NP(), plural=plural, quantity=quantity)[0])

    def _located(self, subject: f.NP, relation: str, landmark: f.NP) -> str:
        phrase, noun_class = _np(subject)
        return f"{phrase} {_SUBJECT[noun_class]}ko {_RELATIONS[relation]} {_np(landmark)[0]}"

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(self._located(frame.subject, frame.relation, frame.landmark))

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence(_np(frame.np)[0])

    def colour_question(self, frame: f.ColourQuestion) -> str:
        phrase, noun_class = _np(frame.np)
        return self.sentence(f"{phrase} {_SUBJECT[noun_class]}na rangi gani", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        phrase, noun_class = _np(frame.np)
        return self.sentence(f"{phrase} {_SUBJECT[noun_class]}na umbo gani", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        plural_class = _NOUNS[frame.np.shape].noun_class + 1
        how_many = _NUMERAL_PREFIX[plural_class] + "ngapi"
        return self.sentence("kuna " + _np(frame.np, plural=True, quantity=how_many)[0], "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"je, kuna {_np(frame.np)[0]}", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        located = self._located(frame.subject, frame.relation, frame.landmark)
        return self.sentence(f"je, {located}", "?")

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"picha zote mbili zina {_np(frame.np)[0]}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"picha moja tu ina {_np(frame.np)[0]}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        plural_class = _NOUNS[frame.np.shape].noun_class + 1
        many = _MANY[plural_class]
        return self.sentence(
            f"picha ya kushoto ina {_np(frame.np, plural=True, quantity=many)[0]} "
            "kuliko picha ya kulia"
        )

    def box_with(self, frame: f.BoxWith) -> str:
        having = _HAVING[_BOX.noun_class]
        return self.sentence(f"kuna {_BOX.singular} {having} {_np(frame.np)[0]}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        noun = _NOUNS[frame.np.shape]
        plural = frame.count != 1
        quantity = numeral(frame.count, noun.noun_class + (1 if plural else 0))
        return self.sentence(f"kuna {_np(frame.np, plural=plural, quantity=quantity)[0]} tu")

    def every_box(self, frame: f.EveryBox) -> str:
        has = _SUBJECT[_BOX.noun_class] + "na"
        return self.sentence(f"kila {_BOX.singular} {has} {_np(frame.np)[0]}")

    def add(self, frame: f.Add) -> str:
        return "ongeza " + _np(frame.np)[0]

    def remove(self, frame: f.Remove) -> str:
        return "ondoa " + _np(frame.np)[0]

    def move(self, frame: f.Move) -> str:
        return f"sogeza {_np(frame.np)[0]} {_DIRECTIONS[frame.direction]}"

    def recolour(self, frame: f.Recolour) -> str:
        return f"paka {_np(frame.np)[0]} rangi {colour(frame.colour, 9)}"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _np(frame.np)[0]

    def colour_answer(self, colour_name: str) -> str:
        """The colour as it agrees with "rangi" (class 9): "nyekundu", "bluu"."""
        if colour_name in _AGREEING_COLOURS:
            return adjective(_AGREEING_COLOURS[colour_name], 9)
        return _COLOUR_NOUNS[colour_name]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape].singular

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "ndiyo" if value else "hapana"
