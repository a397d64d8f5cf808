"""Turkish: suffixes with two- and four-way vowel harmony, consonant softening and alternation.

Adjectives precede "bir" ("kırmızı bir daire"); nouns stay singular after numerals ("iki daire");
the landmark of a relation takes the genitive and the place noun the possessive and locative
("karenin solunda"); definite objects take the accusative ("daireyi kaldır"). "kalp" is a
front-harmony exception and softens p→b before vowels ("kalbin", "kalpte").
"""

from __future__ import annotations

from dataclasses import dataclass

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar

_BACK = "aıou"
_FRONT = "eiöü"
_VOWELS = _BACK + _FRONT
_VOICELESS = "çfhkpsşt"


@dataclass(frozen=True)
class _Word:
    text: str
    harmony: str = ""  # override of the last vowel, for exceptions such as "kalp"
    soft: str = ""  # stem before a vowel-initial suffix, when it softens ("kalp" -> "kalb")

    @property
    def last_vowel(self) -> str:
        if self.harmony:
            return self.harmony
        return next(ch for ch in reversed(self.text) if ch in _VOWELS)

    @property
    def ends_in_vowel(self) -> bool:
        return self.text[-1] in _VOWELS


def _two_way(word: _Word) -> str:
    return "a" if word.last_vowel in _BACK else "e"


def _four_way(word: _Word) -> str:
    return {"a": "ı", "ı": "ı", "o": "u", "u": "u", "e": "i", "i": "i", "ö": "ü", "ü": "ü"}[
        word.last_vowel
    ]


def _vowel_suffix(word: _Word, buffer: str, vowel: str, rest: str = "") -> str:
    """Attach a suffix that starts with a vowel: buffer consonant after vowels, softening after
    consonants."""
    if word.ends_in_vowel:
        return word.text + buffer + vowel + rest
    return (word.soft or word.text) + vowel + rest


def plural(word: _Word) -> str:
    """-lAr: "daireler", "yıldızlar", "kalpler"."""
    return word.text + "l" + _two_way(word) + "r"


def genitive(word: _Word) -> str:
    """-(n)In: "dairenin", "yıldızın", "kalbin"."""
    return _vowel_suffix(word, "n", _four_way(word), "n")


def accusative(word: _Word) -> str:
    """-(y)I: "daireyi", "yıldızı", "kalbi"."""
    return _vowel_suffix(word, "y", _four_way(word))


def dative(word: _Word) -> str:
    """-(y)A: "maviye", "kırmızıya", "mora"."""
    return _vowel_suffix(word, "y", _two_way(word))


def locative(word: _Word) -> str:
    """-DA: "kutuda", "resimde", "kalpte"."""
    consonant = "t" if word.text[-1] in _VOICELESS else "d"
    return word.text + consonant + _two_way(word)


def possessive_locative(word: _Word) -> str:
    """-(s)I-n-DA, the place noun of a relation: "solunda", "üstünde"."""
    possessed = _Word(_vowel_suffix(word, "s", _four_way(word)))
    return possessed.text + "nd" + _two_way(possessed)


def question_particle(previous: str) -> str:
    """mI after the word it questions: "var mı", "üstünde mi"."""
    return "m" + _four_way(_Word(previous))


_NOUNS = {
    "circle": _Word("daire"),
    "square": _Word("kare"),
    "triangle": _Word("üçgen"),
    "star": _Word("yıldız"),
    "cross": _Word("artı"),
    "heart": _Word("kalp", harmony="e", soft="kalb"),
    None: _Word("nesne"),
}
_ADJECTIVES = {
    "red": "kırmızı",
    "orange": "turuncu",
    "yellow": "sarı",
    "green": "yeşil",
    "blue": "mavi",
    "purple": "mor",
    "brown": "kahverengi",
    "black": "siyah",
    "small": "küçük",
    "large": "büyük",
}
_NUMBERS = ("sıfır", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "on")
_PLACES = {"left_of": "sol", "right_of": "sağ", "above": "üst", "below": "alt"}
_DIRECTIONS = {"left": "sola", "right": "sağa", "up": "yukarı", "down": "aşağı"}


def _adjectives(np: f.NP) -> list[str]:
    return [_ADJECTIVES[w] for w in (np.size, np.colour) if w]


def _bare(np: f.NP, noun: str | None = None) -> str:
    return " ".join([*_adjectives(np), noun or _NOUNS[np.shape].text])


def _indefinite(np: f.NP) -> str:
    return " ".join([*_adjectives(np), "bir", _NOUNS[np.shape].text])


def _number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _quantified(item: f.Item) -> str:
    if item.count == 1:
        return _indefinite(item.np)
    if item.count is None:
        return _bare(item.np, plural(_NOUNS[item.np.shape]))
    return f"{_number(item.count)} {_bare(item.np)}"


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " ve " + parts[-1]


def _place(np: f.NP, relation: str) -> str:
    """ "mavi karenin solunda" """
    landmark = _bare(np, genitive(_NOUNS[np.shape]))
    return f"{landmark} {possessive_locative(_Word(_PLACES[relation]))}"


def _definite_object(np: f.NP) -> str:
    return _bare(np, accusative(_NOUNS[np.shape]))


class Turkish(Grammar):
    """Turkish grammar."""

    code = "tr"
    name = "Turkish"

    def capitalise(self, text: str) -> str:
        """Turkish dotted and dotless i: "i" -> "İ", "ı" -> "I"."""
        first = {"i": "İ", "ı": "I"}.get(text[:1], text[:1].upper())
        return first + text[1:]

    def exists(self, frame: f.Exists) -> str:
        return self.sentence(f"resimde {_listing([_quantified(i) for i in frame.items])} var")

    def absent(self, frame: f.Absent) -> str:
        return self.sentence(f"resimde {_bare(frame.np)} yok")

    def total(self, frame: f.Total) -> str:
        return self.sentence(f"resimde {_number(frame.count)} nesne var")

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"{_place(frame.landmark, frame.relation)} {_indefinite(frame.subject)} var"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence(_indefinite(frame.np))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"{_bare(frame.np)} ne renk", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"{_bare(frame.np, genitive(_NOUNS[frame.np.shape]))} şekli ne", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(f"resimde kaç {_bare(frame.np)} var", "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"resimde {_indefinite(frame.np)} var mı", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        place = _place(frame.landmark, frame.relation)
        particle = question_particle(place.rsplit(" ", 1)[-1])
        return self.sentence(f"{_bare(frame.subject)} {place} {particle}", "?")

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"iki resimde de {_indefinite(frame.np)} var")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"resimlerden yalnızca birinde {_indefinite(frame.np)} var")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(f"soldaki resimde sağdaki resimden daha fazla {_bare(frame.np)} var")

    def box_with(self, frame: f.BoxWith) -> str:
        return self.sentence(f"{_indefinite(frame.np)} içeren bir kutu var")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        return self.sentence(f"tam olarak {_number(frame.count)} {_bare(frame.np)} var")

    def every_box(self, frame: f.EveryBox) -> str:
        return self.sentence(f"her {locative(_Word('kutu'))} {_indefinite(frame.np)} var")

    def add(self, frame: f.Add) -> str:
        return f"{_indefinite(frame.np)} ekle"

    def remove(self, frame: f.Remove) -> str:
        return f"{_definite_object(frame.np)} kaldır"

    def move(self, frame: f.Move) -> str:
        return f"{_definite_object(frame.np)} {_DIRECTIONS[frame.direction]} taşı"

    def recolour(self, frame: f.Recolour) -> str:
        colour = dative(_Word(_ADJECTIVES[frame.colour]))
        return f"{_definite_object(frame.np)} {colour} boya"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _bare(frame.np)

    def colour_answer(self, colour: str) -> str:
        return _ADJECTIVES[colour]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape].text

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "evet" if value else "hayır"
