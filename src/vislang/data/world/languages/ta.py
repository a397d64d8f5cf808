"""Tamil: case suffixes joined by sandhi, postpositions after the genitive, -um coordination.

Nouns in -am inflect on an oblique stem in -att- ("வட்டம்" → "வட்டத்தை", "வட்டத்தின்") and
pluralise in -aṅkaḷ ("வட்டங்கள்"); suffixes join with the glides ய/வ after vowels and drop a
final short u ("சிவப்பு" + "ஆக" → "சிவப்பாக"). Relations are genitive + place word
("சதுரத்தின் இடதுபுறத்தில்"), coordination puts -உம் on every conjunct ("வட்டமும் சதுரமும்"),
the verb is உள்ளது (singular) or உள்ளன (plural), and after an accusative a following
hard consonant doubles ("வட்டத்தைச் சேர்க்கவும்"). Word order is subject–object–verb.
"""

from __future__ import annotations

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar

VIRAMA = "\u0bcd"
_SHORT_U = "\u0bc1"
_SIGNS = {
    "அ": "",
    "ஆ": "\u0bbe",
    "இ": "\u0bbf",
    "ஈ": "\u0bc0",
    "உ": "\u0bc1",
    "ஊ": "\u0bc2",
    "எ": "\u0bc6",
    "ஏ": "\u0bc7",
    "ஐ": "\u0bc8",
    "ஒ": "\u0bca",
    "ஓ": "\u0bcb",
}
_FRONT_ENDINGS = {"\u0bbf", "\u0bc0", "\u0bc6", "\u0bc7", "\u0bc8", "இ", "ஈ", "எ", "ஏ", "ஐ"}
_HARD = "கசதப"


def join(word: str, suffix: str) -> str:
    """Attach a vowel-initial ``suffix`` to ``word`` with Tamil sandhi.

    A final consonant takes the vowel; a final short u drops; after i, e, ai the glide ய is
    inserted, after other vowels வ: "பொருள்"+"ஐ" = "பொருளை", "சிவப்பு"+"ஆக" = "சிவப்பாக",
    "சிலுவை"+"ஐ" = "சிலுவையை", "ஊதா"+"ஆக" = "ஊதாவாக".
    """
    sign, rest = _SIGNS[suffix[0]], suffix[1:]
    if word.endswith(VIRAMA):
        return word[:-1] + sign + rest
    if word.endswith(_SHORT_U) and len(word) > 2:
        return word[:-1] + sign + rest
    glide = "ய" if word[-1] in _FRONT_ENDINGS else "வ"
    return word + glide + sign + rest


def oblique(noun: str) -> str:
    """The stem case suffixes attach to: -am nouns take -att- ("வட்டம்" → "வட்டத்த்")."""
    if noun.endswith("ம" + VIRAMA):
        return noun[:-2] + "த" + VIRAMA + "த" + VIRAMA
    return noun


def case(noun: str, suffix: str) -> str:
    """A case form: ``case("வட்டம்", "இன்")`` = "வட்டத்தின்"."""
    return join(oblique(noun), suffix)


def then(word: str, following: str) -> str:
    """``word`` before ``following``, doubling a hard consonant after the accusative -ai."""
    if word.endswith(_SIGNS["ஐ"]) and following[0] in _HARD:
        return f"{word}{following[0]}{VIRAMA} {following}"
    return f"{word} {following}"


# shape -> (singular, plural)
_NOUNS = {
    "circle": ("வட்டம்", "வட்டங்கள்"),
    "square": ("சதுரம்", "சதுரங்கள்"),
    "triangle": ("முக்கோணம்", "முக்கோணங்கள்"),
    "star": ("நட்சத்திரம்", "நட்சத்திரங்கள்"),
    "cross": ("சிலுவை", "சிலுவைகள்"),
    "heart": ("இதயம்", "இதயங்கள்"),
    None: ("பொருள்", "பொருட்கள்"),
}
# colour -> (attributive form, noun form used as an answer and before -ஆக)
_COLOURS = {
    "red": ("சிவப்பு", "சிவப்பு"),
    "orange": ("ஆரஞ்சு", "ஆரஞ்சு"),
    "yellow": ("மஞ்சள்", "மஞ்சள்"),
    "green": ("பச்சை", "பச்சை"),
    "blue": ("நீல", "நீலம்"),
    "purple": ("ஊதா", "ஊதா"),
    "brown": ("பழுப்பு", "பழுப்பு"),
    "black": ("கருப்பு", "கருப்பு"),
}
_SIZES = {"small": "சிறிய", "large": "பெரிய"}
_NUMBERS = (
    "பூஜ்ஜியம்",
    "ஒரு",
    "இரண்டு",
    "மூன்று",
    "நான்கு",
    "ஐந்து",
    "ஆறு",
    "ஏழு",
    "எட்டு",
    "ஒன்பது",
    "பத்து",
)
_PLACES = {"left_of": "இடதுபுறத்தில்", "right_of": "வலதுபுறத்தில்", "above": "மேலே", "below": "கீழே"}
_DIRECTIONS = {"left": "இடதுபுறம்", "right": "வலதுபுறம்", "up": "மேலே", "down": "கீழே"}
_IN_PICTURE = "படத்தில்"
_SINGULAR_VERB, _PLURAL_VERB = "உள்ளது", "உள்ளன"
_QUESTION_VERB = join(_SINGULAR_VERB, "ஆ")  # the interrogative clitic -ā: "உள்ளதா"


def _modifiers(np: f.NP) -> list[str]:
    words = [_SIZES[np.size]] if np.size else []
    if np.colour:
        words.append(_COLOURS[np.colour][0])
    return words


def _bare(np: f.NP, plural: bool = False, noun: str | None = None) -> str:
    head = noun or _NOUNS[np.shape][1 if plural else 0]
    return " ".join([*_modifiers(np), head])


def _number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _quantified(item: f.Item) -> str:
    if item.count == 1:
        return "ஒரு " + _bare(item.np)
    if item.count is None:
        return "சில " + _bare(item.np, plural=True)
    return f"{_number(item.count)} {_bare(item.np, plural=True)}"


def _with_um(phrase: str) -> str:
    """Coordinate a conjunct with the clitic -உம்: "ஒரு சிவப்பு வட்டமும்"."""
    head, _, last = phrase.rpartition(" ")
    return f"{head} {join(last, 'உம்')}".strip()


def _genitive(np: f.NP) -> str:
    return _bare(np, noun=case(_NOUNS[np.shape][0], "இன்"))


def _accusative(np: f.NP, article: bool = False) -> str:
    phrase = _bare(np, noun=case(_NOUNS[np.shape][0], "ஐ"))
    return "ஒரு " + phrase if article else phrase


class Tamil(Grammar):
    """Tamil grammar."""

    code = "ta"
    name = "Tamil"
    script = "Tamil"

    def exists(self, frame: f.Exists) -> str:
        parts = [_quantified(i) for i in frame.items]
        if len(parts) == 1:
            verb = _SINGULAR_VERB if frame.items[0].count == 1 else _PLURAL_VERB
            return self.sentence(f"{_IN_PICTURE} {parts[0]} {verb}")
        coordinated = " ".join(_with_um(p) for p in parts)
        return self.sentence(f"{_IN_PICTURE} {coordinated} {_PLURAL_VERB}")

    def absent(self, frame: f.Absent) -> str:
        return self.sentence(f"{_IN_PICTURE} {_bare(frame.np)} இல்லை")

    def total(self, frame: f.Total) -> str:
        verb = _SINGULAR_VERB if frame.count == 1 else _PLURAL_VERB
        return self.sentence(f"{_IN_PICTURE} {_quantified(f.Item(f.NP(), frame.count))} {verb}")

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"{_genitive(frame.landmark)} {_PLACES[frame.relation]} ஒரு {_bare(frame.subject)} "
            f"{_SINGULAR_VERB}"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence("ஒரு " + _bare(frame.np))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"{_genitive(frame.np)} நிறம் என்ன", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"{_genitive(frame.np)} வடிவம் என்ன", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(
            f"{_IN_PICTURE} எத்தனை {_bare(frame.np, plural=True)} {_PLURAL_VERB}", "?"
        )

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"{_IN_PICTURE} {_bare(frame.np)} {_QUESTION_VERB}", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        return self.sentence(
            f"{_bare(frame.subject)} {_genitive(frame.landmark)} {_PLACES[frame.relation]} "
            f"{_QUESTION_VERB}",
            "?",
        )

    def both_contain(self, frame: f.BothContain) -> str:
        pictures = join(join("படங்கள்", "இல்"), "உம்")
        return self.sentence(f"இரண்டு {pictures} {_bare(frame.np)} {_SINGULAR_VERB}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"ஒரு {_IN_PICTURE} மட்டுமே {_bare(frame.np)} {_SINGULAR_VERB}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(
            f"இடது {_IN_PICTURE} வலது {case('படம்', 'ஐ')} விட அதிக "
            f"{_bare(frame.np, plural=True)} {_PLURAL_VERB}"
        )

    def box_with(self, frame: f.BoxWith) -> str:
        return self.sentence(f"{_bare(frame.np)} உள்ள ஒரு பெட்டி {_SINGULAR_VERB}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        verb = _SINGULAR_VERB if frame.count == 1 else _PLURAL_VERB
        quantified = _quantified(f.Item(frame.np, frame.count))
        return self.sentence(f"சரியாக {quantified} {verb}")

    def every_box(self, frame: f.EveryBox) -> str:
        boxes = join(case("பெட்டி", "இல்"), "உம்")
        return self.sentence(f"ஒவ்வொரு {boxes} ஒரு {_bare(frame.np)} {_SINGULAR_VERB}")

    def add(self, frame: f.Add) -> str:
        return then(_accusative(frame.np, article=True), "சேர்க்கவும்")

    def remove(self, frame: f.Remove) -> str:
        return then(_accusative(frame.np), "அகற்றவும்")

    def move(self, frame: f.Move) -> str:
        return then(_accusative(frame.np), f"{_DIRECTIONS[frame.direction]} நகர்த்தவும்")

    def recolour(self, frame: f.Recolour) -> str:
        adverb = join(_COLOURS[frame.colour][1], "ஆக")
        return then(_accusative(frame.np), f"{adverb} மாற்றவும்")

    def concept_name(self, frame: f.ConceptName) -> str:
        return _bare(frame.np)

    def colour_answer(self, colour: str) -> str:
        return _COLOURS[colour][1]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape][0]

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "ஆம்" if value else "இல்லை"
