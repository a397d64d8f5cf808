"""Indonesian: noun before its modifiers, "sebuah" for one object, no plural after numerals.

Modifiers follow the noun ("lingkaran merah"); size joins with "yang" ("lingkaran merah yang
besar"); a numeral or "beberapa" precedes an unreduplicated noun ("dua persegi biru",
"beberapa bintang"); lists of three or more put a comma before "dan"; locatives are "di" + place
("di sebelah kiri persegi biru", "di atas …").
"""

from __future__ import annotations

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar

_NOUNS = {
    "circle": "lingkaran",
    "square": "persegi",
    "triangle": "segitiga",
    "star": "bintang",
    "cross": "salib",
    "heart": "hati",
    None: "benda",
}
_COLOURS = {
    "red": "merah",
    "orange": "oranye",
    "yellow": "kuning",
    "green": "hijau",
    "blue": "biru",
    "purple": "ungu",
    "brown": "cokelat",
    "black": "hitam",
}
_SIZES = {"small": "kecil", "large": "besar"}
_NUMBERS = (
    "nol",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
)
_PLACES = {
    "left_of": "di sebelah kiri",
    "right_of": "di sebelah kanan",
    "above": "di atas",
    "below": "di bawah",
}
_DIRECTIONS = {"left": "ke kiri", "right": "ke kanan", "up": "ke atas", "down": "ke bawah"}


def _bare(np: f.NP) -> str:
    words = [_NOUNS[np.shape]]
    if np.colour:
        words.append(_COLOURS[np.colour])
    if np.size:
        words += ["yang", _SIZES[np.size]]
    return " ".join(words)


def _number(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def _quantified(item: f.Item) -> str:
    if item.count == 1:
        return "sebuah " + _bare(item.np)
    if item.count is None:
        return "beberapa " + _bare(item.np)
    return f"{_number(item.count)} {_bare(item.np)}"


def _listing(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return f"{parts[0]} dan {parts[1]}"
    return ", ".join(parts[:-1]) + ", dan " + parts[-1]


class Indonesian(Grammar):
    """Indonesian grammar."""

    code = "id"
    name = "Indonesian"

    def exists(self, frame: f.Exists) -> str:
        return self.sentence("ada " + _listing([_quantified(i) for i in frame.items]))

    def absent(self, frame: f.Absent) -> str:
        return self.sentence("tidak ada " + _bare(frame.np))

    def total(self, frame: f.Total) -> str:
        return self.sentence("ada " + _quantified(f.Item(f.NP(), frame.count)))

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"ada sebuah {_bare(frame.subject)} {_PLACES[frame.relation]} {_bare(frame.landmark)}"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence("sebuah " + _bare(frame.np))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"apa warna {_bare(frame.np)} itu", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"apa bentuk {_bare(frame.np)} itu", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(f"ada berapa {_bare(frame.np)}", "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"apakah ada {_bare(frame.np)}", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        return self.sentence(
            f"apakah {_bare(frame.subject)} berada {_PLACES[frame.relation]} "
            f"{_bare(frame.landmark)}",
            "?",
        )

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"kedua gambar berisi {_bare(frame.np)}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"hanya satu gambar yang berisi {_bare(frame.np)}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(
            f"gambar kiri berisi lebih banyak {_bare(frame.np)} daripada gambar kanan"
        )

    def box_with(self, frame: f.BoxWith) -> str:
        return self.sentence(f"ada kotak yang berisi {_bare(frame.np)}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        return self.sentence(f"ada tepat {_number(frame.count)} {_bare(frame.np)}")

    def every_box(self, frame: f.EveryBox) -> str:
        return self.sentence(f"setiap kotak berisi {_bare(frame.np)}")

    def add(self, frame: f.Add) -> str:
        return "tambahkan sebuah " + _bare(frame.np)

    def remove(self, frame: f.Remove) -> str:
        return "hapus " + _bare(frame.np)

    def move(self, frame: f.Move) -> str:
        return f"geser {_bare(frame.np)} {_DIRECTIONS[frame.direction]}"

    def recolour(self, frame: f.Recolour) -> str:
        return f"ubah warna {_bare(frame.np)} menjadi {_COLOURS[frame.colour]}"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _bare(frame.np)

    def colour_answer(self, colour: str) -> str:
        return _COLOURS[colour]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape]

    def yes_no(self, question: f.Question, value: bool) -> str:
        return "ya" if value else "tidak"
