"""German: three genders, four cases (three used), strong/mixed/weak adjective declension.

Case follows the construction: "es gibt" and "enthalten" take the accusative, "links von", "über",
"unter" and "mit" the dative, subjects the nominative. Adjectives are declined strong (no article,
after numbers and "mehrere"), mixed (after "ein"/"kein") or weak (after the definite article);
"orange" and "lila" do not decline, so the world uses "orangefarben" and "violett" attributively.
"""

from __future__ import annotations

from dataclasses import dataclass

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar


@dataclass(frozen=True)
class _Noun:
    singular: str
    gender: str  # "m", "n" or "f"
    plural: str
    dative_singular: str
    dative_plural: str

    def form(self, case: str, plural: bool) -> str:
        if plural:
            return self.dative_plural if case == "dat" else self.plural
        return self.dative_singular if case == "dat" else self.singular


_NOUNS = {
    "circle": _Noun("Kreis", "m", "Kreise", "Kreis", "Kreisen"),
    "square": _Noun("Quadrat", "n", "Quadrate", "Quadrat", "Quadraten"),
    "triangle": _Noun("Dreieck", "n", "Dreiecke", "Dreieck", "Dreiecken"),
    "star": _Noun("Stern", "m", "Sterne", "Stern", "Sternen"),
    "cross": _Noun("Kreuz", "n", "Kreuze", "Kreuz", "Kreuzen"),
    "heart": _Noun("Herz", "n", "Herzen", "Herzen", "Herzen"),
    None: _Noun("Objekt", "n", "Objekte", "Objekt", "Objekten"),
}
_BOX = _Noun("Kasten", "m", "Kästen", "Kasten", "Kästen")

_ATTRIBUTIVE = {
    "red": "rot",
    "orange": "orangefarben",
    "yellow": "gelb",
    "green": "grün",
    "blue": "blau",
    "purple": "violett",
    "brown": "braun",
    "black": "schwarz",
    "small": "klein",
    "large": "groß",
}
_PREDICATIVE = {**_ATTRIBUTIVE, "orange": "orange"}

_STRONG = {
    "nom": {"m": "er", "n": "es", "f": "e", "pl": "e"},
    "acc": {"m": "en", "n": "es", "f": "e", "pl": "e"},
    "dat": {"m": "em", "n": "em", "f": "er", "pl": "en"},
}
_MIXED = {
    "nom": {"m": "er", "n": "es", "f": "e", "pl": "en"},
    "acc": {"m": "en", "n": "es", "f": "e", "pl": "en"},
    "dat": {"m": "en", "n": "en", "f": "en", "pl": "en"},
}
_WEAK = {
    "nom": {"m": "e", "n": "e", "f": "e", "pl": "en"},
    "acc": {"m": "en", "n": "e", "f": "e", "pl": "en"},
    "dat": {"m": "en", "n": "en", "f": "en", "pl": "en"},
}
_EIN = {
    "nom": {"m": "ein", "n": "ein", "f": "eine"},
    "acc": {"m": "einen", "n": "ein", "f": "eine"},
    "dat": {"m": "einem", "n": "einem", "f": "einer"},
}
_KEIN_PLURAL = {"nom": "keine", "acc": "keine", "dat": "keinen"}
_DEFINITE = {
    "nom": {"m": "der", "n": "das", "f": "die", "pl": "die"},
    "acc": {"m": "den", "n": "das", "f": "die", "pl": "die"},
    "dat": {"m": "dem", "n": "dem", "f": "der", "pl": "den"},
}
_NUMBERS = (
    "null",
    "ein",
    "zwei",
    "drei",
    "vier",
    "fünf",
    "sechs",
    "sieben",
    "acht",
    "neun",
    "zehn",
)
_RELATIONS = {"left_of": "links von", "right_of": "rechts von", "above": "über", "below": "unter"}
_DIRECTIONS = {
    "left": "nach links",
    "right": "nach rechts",
    "up": "nach oben",
    "down": "nach unten",
}


def _adjectives(np: f.NP) -> list[str]:
    return [_ATTRIBUTIVE[w] for w in (np.size, np.colour) if w]


def _phrase(noun: _Noun, adjectives: list[str], case: str, determiner: str, plural: bool) -> str:
    """A noun phrase; ``determiner`` is "ein", "kein", "der" or "" (strong declension)."""
    slot = "pl" if plural else noun.gender
    if determiner in ("ein", "kein") and not plural:
        article = ("k" if determiner == "kein" else "") + _EIN[case][noun.gender]
        endings = _MIXED
    elif determiner == "kein":
        article, endings = _KEIN_PLURAL[case], _MIXED
    elif determiner == "der":
        article, endings = _DEFINITE[case][slot], _WEAK
    else:
        article, endings = "", _STRONG
    words = [article] if article else []
    words += [a + endings[case][slot] for a in adjectives]
    words.append(noun.form(case, plural))
    return " ".join(words)


def _np(np: f.NP, case: str, determiner: str, plural: bool = False) -> str:
    return _phrase(_NOUNS[np.shape], _adjectives(np), case, determiner, plural)


def _quantified(item: f.Item, case: str) -> str:
    if item.count == 1:
        return _np(item.np, case, "ein")
    number = "mehrere" if item.count is None else _number(item.count)
    return f"{number} {_np(item.np, case, '', plural=True)}"


def _number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " und " + parts[-1]


def _dative_definite_after(preposition: str, np: f.NP) -> str:
    """ "von dem" contracts to "vom" (masculine and neuter)."""
    phrase = _np(np, "dat", "der")
    if preposition.endswith("von") and phrase.startswith("dem "):
        return preposition[: -len("von")] + "vom " + phrase[len("dem ") :]
    return f"{preposition} {phrase}"


class German(Grammar):
    """German grammar."""

    code = "de"
    name = "German"

    def exists(self, frame: f.Exists) -> str:
        return self.sentence("es gibt " + _listing([_quantified(i, "acc") for i in frame.items]))

    def absent(self, frame: f.Absent) -> str:
        return self.sentence("es gibt " + _np(frame.np, "acc", "kein"))

    def total(self, frame: f.Total) -> str:
        return self.sentence("es gibt " + _quantified(f.Item(f.NP(), frame.count), "acc"))

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"{_np(frame.subject, 'nom', 'ein')} ist {_RELATIONS[frame.relation]} "
            f"{_np(frame.landmark, 'dat', 'ein')}"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence(_np(frame.np, "nom", "ein"))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"welche Farbe hat {_np(frame.np, 'nom', 'der')}", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"welche Form hat {_np(frame.np, 'nom', 'der')}", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(f"wie viele {_np(frame.np, 'acc', '', plural=True)} gibt es", "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"gibt es {_np(frame.np, 'acc', 'ein')}", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        where = _dative_definite_after(_RELATIONS[frame.relation], frame.landmark)
        return self.sentence(f"ist {_np(frame.subject, 'nom', 'der')} {where}", "?")

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"beide Bilder enthalten {_np(frame.np, 'acc', 'ein')}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"genau ein Bild enthält {_np(frame.np, 'acc', 'ein')}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(
            f"das linke Bild enthält mehr {_np(frame.np, 'acc', '', plural=True)} "
            "als das rechte Bild"
        )

    def box_with(self, frame: f.BoxWith) -> str:
        box = _phrase(_BOX, [], "acc", "ein", False)
        return self.sentence(f"es gibt {box} mit {_np(frame.np, 'dat', 'ein')}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        return self.sentence("es gibt genau " + _quantified(f.Item(frame.np, frame.count), "acc"))

    def every_box(self, frame: f.EveryBox) -> str:
        return self.sentence(f"jeder Kasten enthält {_np(frame.np, 'acc', 'ein')}")

    def add(self, frame: f.Add) -> str:
        return f"{_np(frame.np, 'acc', 'ein')} hinzufügen"

    def remove(self, frame: f.Remove) -> str:
        return f"{_np(frame.np, 'acc', 'der')} entfernen"

    def move(self, frame: f.Move) -> str:
        return f"{_np(frame.np, 'acc', 'der')} {_DIRECTIONS[frame.direction]} verschieben"

    def recolour(self, frame: f.Recolour) -> str:
        return f"{_np(frame.np, 'acc', 'der')} {_PREDICATIVE[frame.colour]} färben"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _np(frame.np, "nom", "")

    def colour_answer(self, colour: str) -> str:
        return _PREDICATIVE[colour]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape].singular

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "ja" if value else "nein"
