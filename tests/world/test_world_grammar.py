"""Grammar tests: fixed scenes, fixed meanings, and the sentence each language must produce.

Every expected string below was written by hand. Scene A has a large red circle on the left, two
small blue squares in the middle and a small yellow star on the right; scene B a small black
heart above a large green triangle. Caption frames of A come from the generator's content
selection; the others are built directly.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from vislang.data.world import frames as f
from vislang.data.world.captions import colour_counts, inventory, salient, shape_counts, total
from vislang.data.world.languages import LANGUAGES, grammar, sw, ta, tr
from vislang.data.world.scene import Scene, WorldObject

NP = f.NP
SCENE_A = Scene(
    "a",
    (
        WorldObject("circle", "red", "large", 0.2, 0.5, 0.16),
        WorldObject("square", "blue", "small", 0.5, 0.3, 0.09),
        WorldObject("square", "blue", "small", 0.5, 0.75, 0.09),
        WorldObject("star", "yellow", "small", 0.8, 0.5, 0.09),
    ),
)
RNG = random.Random(0)

FRAMES: dict[str, f.Frame] = {
    "inventory": inventory(SCENE_A, RNG),
    "shape_counts": shape_counts(SCENE_A, RNG),
    "colour_counts": colour_counts(SCENE_A, RNG),
    "total": total(SCENE_A, RNG),
    "salient": salient(SCENE_A, RNG),
    "absent": f.Absent(NP("heart", "orange")),
    "several": f.Exists((f.Item(NP("square", "blue"), None),)),
    "above": f.Relation(NP("heart", "black"), "above", NP("triangle", "green")),
    "left_of": f.Relation(NP("circle", "red"), "left_of", NP("star", "yellow")),
    "below_heart": f.Relation(NP("star", "yellow"), "below", NP("heart", "black")),
    "colour_q": f.ColourQuestion(NP("star")),
    "shape_q": f.ShapeQuestion(NP(colour="red")),
    "count_q": f.CountQuestion(NP("square", "blue")),
    "count_shape_q": f.CountQuestion(NP("star")),
    "exists_q": f.ExistsQuestion(NP("heart", "orange")),
    "relation_q": f.RelationQuestion(NP("heart", "black"), "below", NP("triangle", "green")),
    "both": f.BothContain(NP("square", "blue")),
    "one": f.OneContains(NP("star", "yellow")),
    "more": f.MoreOnLeft(NP("square")),
    "box_with": f.BoxWith(NP("circle", "yellow")),
    "exactly": f.ExactlyTotal(NP("square", "black"), 2),
    "every": f.EveryBox(NP(colour="blue")),
    "add": f.Add(NP("star", "purple")),
    "remove": f.Remove(NP("heart", "black")),
    "move": f.Move(NP("triangle", "green"), "down"),
    "recolour": f.Recolour(NP("circle", "red"), "green"),
    "concept": f.ConceptName(NP("cross", "brown")),
}

EXPECTED: dict[str, dict[str, str]] = {
    "en": {
        "inventory": "There is a red circle, two blue squares and a yellow star.",
        "shape_counts": "There is a circle, two squares and a star.",
        "colour_counts": "There is a red object, two blue objects and a yellow object.",
        "total": "There are four objects.",
        "salient": "A large red circle.",
        "absent": "There is no orange heart.",
        "several": "There are several blue squares.",
        "above": "A black heart is above a green triangle.",
        "left_of": "A red circle is to the left of a yellow star.",
        "below_heart": "A yellow star is below a black heart.",
        "colour_q": "What colour is the star?",
        "shape_q": "What shape is the red object?",
        "count_q": "How many blue squares are there?",
        "count_shape_q": "How many stars are there?",
        "exists_q": "Is there an orange heart?",
        "relation_q": "Is the black heart below the green triangle?",
        "both": "Both images contain a blue square.",
        "one": "Exactly one image contains a yellow star.",
        "more": "The left image contains more squares than the right image.",
        "box_with": "There is a box with a yellow circle.",
        "exactly": "There are exactly two black squares.",
        "every": "Every box contains a blue object.",
        "add": "add a purple star",
        "remove": "remove the black heart",
        "move": "move the green triangle down",
        "recolour": "paint the red circle green",
        "concept": "brown cross",
    },
    "de": {
        "inventory": "Es gibt einen roten Kreis, zwei blaue Quadrate und einen gelben Stern.",
        "shape_counts": "Es gibt einen Kreis, zwei Quadrate und einen Stern.",
        "colour_counts": "Es gibt ein rotes Objekt, zwei blaue Objekte und ein gelbes Objekt.",
        "total": "Es gibt vier Objekte.",
        "salient": "Ein großer roter Kreis.",
        "absent": "Es gibt kein orangefarbenes Herz.",
        "several": "Es gibt mehrere blaue Quadrate.",
        "above": "Ein schwarzes Herz ist über einem grünen Dreieck.",
        "left_of": "Ein roter Kreis ist links von einem gelben Stern.",
        "below_heart": "Ein gelber Stern ist unter einem schwarzen Herzen.",
        "colour_q": "Welche Farbe hat der Stern?",
        "shape_q": "Welche Form hat das rote Objekt?",
        "count_q": "Wie viele blaue Quadrate gibt es?",
        "count_shape_q": "Wie viele Sterne gibt es?",
        "exists_q": "Gibt es ein orangefarbenes Herz?",
        "relation_q": "Ist das schwarze Herz unter dem grünen Dreieck?",
        "both": "Beide Bilder enthalten ein blaues Quadrat.",
        "one": "Genau ein Bild enthält einen gelben Stern.",
        "more": "Das linke Bild enthält mehr Quadrate als das rechte Bild.",
        "box_with": "Es gibt einen Kasten mit einem gelben Kreis.",
        "exactly": "Es gibt genau zwei schwarze Quadrate.",
        "every": "Jeder Kasten enthält ein blaues Objekt.",
        "add": "einen violetten Stern hinzufügen",
        "remove": "das schwarze Herz entfernen",
        "move": "das grüne Dreieck nach unten verschieben",
        "recolour": "den roten Kreis grün färben",
        "concept": "braunes Kreuz",
    },
    "tr": {
        "inventory": "Resimde kırmızı bir daire, iki mavi kare ve sarı bir yıldız var.",
        "shape_counts": "Resimde bir daire, iki kare ve bir yıldız var.",
        "colour_counts": "Resimde kırmızı bir nesne, iki mavi nesne ve sarı bir nesne var.",
        "total": "Resimde dört nesne var.",
        "salient": "Büyük kırmızı bir daire.",
        "absent": "Resimde turuncu kalp yok.",
        "several": "Resimde mavi kareler var.",
        "above": "Yeşil üçgenin üstünde siyah bir kalp var.",
        "left_of": "Sarı yıldızın solunda kırmızı bir daire var.",
        "below_heart": "Siyah kalbin altında sarı bir yıldız var.",
        "colour_q": "Yıldız ne renk?",
        "shape_q": "Kırmızı nesnenin şekli ne?",
        "count_q": "Resimde kaç mavi kare var?",
        "count_shape_q": "Resimde kaç yıldız var?",
        "exists_q": "Resimde turuncu bir kalp var mı?",
        "relation_q": "Siyah kalp yeşil üçgenin altında mı?",
        "both": "İki resimde de mavi bir kare var.",
        "one": "Resimlerden yalnızca birinde sarı bir yıldız var.",
        "more": "Soldaki resimde sağdaki resimden daha fazla kare var.",
        "box_with": "Sarı bir daire içeren bir kutu var.",
        "exactly": "Tam olarak iki siyah kare var.",
        "every": "Her kutuda mavi bir nesne var.",
        "add": "mor bir yıldız ekle",
        "remove": "siyah kalbi kaldır",
        "move": "yeşil üçgeni aşağı taşı",
        "recolour": "kırmızı daireyi yeşile boya",
        "concept": "kahverengi artı",
    },
    "zh": {
        "inventory": "图中有一个红色的圆形、两个蓝色的正方形和一颗黄色的星星。",
        "shape_counts": "图中有一个圆形、两个正方形和一颗星星。",
        "colour_counts": "图中有一个红色的图形、两个蓝色的图形和一个黄色的图形。",
        "total": "图中一共有四个图形。",
        "salient": "一个红色的大圆形。",
        "absent": "图中没有橙色的心形。",
        "several": "图中有一些蓝色的正方形。",
        "above": "绿色三角形的上面有一个黑色的心形。",
        "left_of": "黄色星星的左边有一个红色的圆形。",
        "below_heart": "黑色心形的下面有一颗黄色的星星。",
        "colour_q": "星星是什么颜色的？",
        "shape_q": "红色的图形是什么形状的？",
        "count_q": "图中有几个蓝色的正方形？",
        "count_shape_q": "图中有几颗星星？",
        "exists_q": "图中有橙色的心形吗？",
        "relation_q": "黑色的心形在绿色三角形的下面吗？",
        "both": "两张图片中都有蓝色的正方形。",
        "one": "只有一张图片中有黄色的星星。",
        "more": "左图中的正方形比右图中的多。",
        "box_with": "有一个方框里有一个黄色的圆形。",
        "exactly": "图中恰好有两个黑色的正方形。",
        "every": "每个方框里都有蓝色的图形。",
        "add": "添加一颗紫色的星星",
        "remove": "移除黑色的心形",
        "move": "把绿色的三角形向下移动",
        "recolour": "把红色的圆形涂成绿色",
        "concept": "棕色的十字",
    },
    "sw": {
        "inventory": "Kuna mduara mwekundu, miraba miwili ya bluu na nyota ya njano.",
        "shape_counts": "Kuna mduara, miraba miwili na nyota.",
        "colour_counts": "Kuna kitu chekundu, vitu viwili vya bluu na kitu cha njano.",
        "total": "Kuna vitu vinne.",
        "salient": "Mduara mkubwa mwekundu.",
        "absent": "Hakuna moyo wa machungwa.",
        "several": "Kuna miraba ya bluu.",
        "above": "Moyo mweusi uko juu ya pembetatu ya kijani.",
        "left_of": "Mduara mwekundu uko kushoto kwa nyota ya njano.",
        "below_heart": "Nyota ya njano iko chini ya moyo mweusi.",
        "colour_q": "Nyota ina rangi gani?",
        "shape_q": "Kitu chekundu kina umbo gani?",
        "count_q": "Kuna miraba mingapi ya bluu?",
        "count_shape_q": "Kuna nyota ngapi?",
        "exists_q": "Je, kuna moyo wa machungwa?",
        "relation_q": "Je, moyo mweusi uko chini ya pembetatu ya kijani?",
        "both": "Picha zote mbili zina mraba wa bluu.",
        "one": "Picha moja tu ina nyota ya njano.",
        "more": "Picha ya kushoto ina miraba mingi kuliko picha ya kulia.",
        "box_with": "Kuna kisanduku chenye mduara wa njano.",
        "exactly": "Kuna miraba miwili myeusi tu.",
        "every": "Kila kisanduku kina kitu cha bluu.",
        "add": "ongeza nyota ya zambarau",
        "remove": "ondoa moyo mweusi",
        "move": "sogeza pembetatu ya kijani chini",
        "recolour": "paka mduara mwekundu rangi ya kijani",
        "concept": "msalaba wa kahawia",
    },
    "id": {
        "inventory": "Ada sebuah lingkaran merah, dua persegi biru, dan sebuah bintang kuning.",
        "shape_counts": "Ada sebuah lingkaran, dua persegi, dan sebuah bintang.",
        "colour_counts": "Ada sebuah benda merah, dua benda biru, dan sebuah benda kuning.",
        "total": "Ada empat benda.",
        "salient": "Sebuah lingkaran merah yang besar.",
        "absent": "Tidak ada hati oranye.",
        "several": "Ada beberapa persegi biru.",
        "above": "Ada sebuah hati hitam di atas segitiga hijau.",
        "left_of": "Ada sebuah lingkaran merah di sebelah kiri bintang kuning.",
        "below_heart": "Ada sebuah bintang kuning di bawah hati hitam.",
        "colour_q": "Apa warna bintang itu?",
        "shape_q": "Apa bentuk benda merah itu?",
        "count_q": "Ada berapa persegi biru?",
        "count_shape_q": "Ada berapa bintang?",
        "exists_q": "Apakah ada hati oranye?",
        "relation_q": "Apakah hati hitam berada di bawah segitiga hijau?",
        "both": "Kedua gambar berisi persegi biru.",
        "one": "Hanya satu gambar yang berisi bintang kuning.",
        "more": "Gambar kiri berisi lebih banyak persegi daripada gambar kanan.",
        "box_with": "Ada kotak yang berisi lingkaran kuning.",
        "exactly": "Ada tepat dua persegi hitam.",
        "every": "Setiap kotak berisi benda biru.",
        "add": "tambahkan sebuah bintang ungu",
        "remove": "hapus hati hitam",
        "move": "geser segitiga hijau ke bawah",
        "recolour": "ubah warna lingkaran merah menjadi hijau",
        "concept": "salib cokelat",
    },
    "ta": {
        "inventory": "படத்தில் ஒரு சிவப்பு வட்டமும் இரண்டு நீல சதுரங்களும் ஒரு மஞ்சள் நட்சத்திரமும் உள்ளன.",
        "shape_counts": "படத்தில் ஒரு வட்டமும் இரண்டு சதுரங்களும் ஒரு நட்சத்திரமும் உள்ளன.",
        "colour_counts": "படத்தில் ஒரு சிவப்பு பொருளும் இரண்டு நீல பொருட்களும் ஒரு மஞ்சள் பொருளும் உள்ளன.",
        "total": "படத்தில் நான்கு பொருட்கள் உள்ளன.",
        "salient": "ஒரு பெரிய சிவப்பு வட்டம்.",
        "absent": "படத்தில் ஆரஞ்சு இதயம் இல்லை.",
        "several": "படத்தில் சில நீல சதுரங்கள் உள்ளன.",
        "above": "பச்சை முக்கோணத்தின் மேலே ஒரு கருப்பு இதயம் உள்ளது.",
        "left_of": "மஞ்சள் நட்சத்திரத்தின் இடதுபுறத்தில் ஒரு சிவப்பு வட்டம் உள்ளது.",
        "below_heart": "கருப்பு இதயத்தின் கீழே ஒரு மஞ்சள் நட்சத்திரம் உள்ளது.",
        "colour_q": "நட்சத்திரத்தின் நிறம் என்ன?",
        "shape_q": "சிவப்பு பொருளின் வடிவம் என்ன?",
        "count_q": "படத்தில் எத்தனை நீல சதுரங்கள் உள்ளன?",
        "count_shape_q": "படத்தில் எத்தனை நட்சத்திரங்கள் உள்ளன?",
        "exists_q": "படத்தில் ஆரஞ்சு இதயம் உள்ளதா?",
        "relation_q": "கருப்பு இதயம் பச்சை முக்கோணத்தின் கீழே உள்ளதா?",
        "both": "இரண்டு படங்களிலும் நீல சதுரம் உள்ளது.",
        "one": "ஒரு படத்தில் மட்டுமே மஞ்சள் நட்சத்திரம் உள்ளது.",
        "more": "இடது படத்தில் வலது படத்தை விட அதிக சதுரங்கள் உள்ளன.",
        "box_with": "மஞ்சள் வட்டம் உள்ள ஒரு பெட்டி உள்ளது.",
        "exactly": "சரியாக இரண்டு கருப்பு சதுரங்கள் உள்ளன.",
        "every": "ஒவ்வொரு பெட்டியிலும் ஒரு நீல பொருள் உள்ளது.",
        "add": "ஒரு ஊதா நட்சத்திரத்தைச் சேர்க்கவும்",
        "remove": "கருப்பு இதயத்தை அகற்றவும்",
        "move": "பச்சை முக்கோணத்தைக் கீழே நகர்த்தவும்",
        "recolour": "சிவப்பு வட்டத்தைப் பச்சையாக மாற்றவும்",
        "concept": "பழுப்பு சிலுவை",
    },
}

# Answers to colour_q (yellow), shape_q (circle), exists_q (no) and relation_q (no).
ANSWERS = {
    "en": ("yellow", "circle", "no", "no"),
    "de": ("gelb", "Kreis", "nein", "nein"),
    "tr": ("sarı", "daire", "hayır", "hayır"),
    "zh": ("黄色", "圆形", "没有", "不是"),
    "sw": ("njano", "mduara", "hapana", "hapana"),
    "id": ("kuning", "lingkaran", "tidak", "tidak"),
    "ta": ("மஞ்சள்", "வட்டம்", "இல்லை", "இல்லை"),
}


def test_every_language_has_expected_sentences() -> None:
    assert set(EXPECTED) == set(LANGUAGES) == set(ANSWERS)
    for language, expected in EXPECTED.items():
        assert set(expected) == set(FRAMES), language


@pytest.mark.parametrize("language", sorted(EXPECTED))
def test_sentences(language: str) -> None:
    speak = grammar(language)
    for name, frame in FRAMES.items():
        produced = speak.realise(frame)
        assert produced == EXPECTED[language][name], (name, produced)
        assert unicodedata.is_normalized("NFC", produced)


@pytest.mark.parametrize("language", sorted(ANSWERS))
def test_answers(language: str) -> None:
    speak = grammar(language)
    colour, shape, exists, relation = ANSWERS[language]
    assert speak.answer(FRAMES["colour_q"], "yellow") == colour
    assert speak.answer(FRAMES["shape_q"], "circle") == shape
    assert speak.answer(FRAMES["exists_q"], False) == exists
    assert speak.answer(FRAMES["relation_q"], False) == relation
    assert speak.answer(FRAMES["count_q"], 2) == "2"


def test_every_colour_has_a_distinct_name_in_every_language() -> None:
    colours = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "black")
    for language in LANGUAGES:
        speak = grammar(language)
        names = {speak.answer(f.ColourQuestion(NP("circle")), c) for c in colours}
        assert len(names) == 8, language
        concepts = {speak.realise(f.ConceptName(NP("circle", c))) for c in colours}
        assert len(concepts) == 8, language


def test_german_declension_by_case_gender_and_article() -> None:
    de = grammar("de")
    assert de.realise(f.Exists((f.Item(NP("heart", "orange")),))) == (
        "Es gibt ein orangefarbenes Herz."
    )
    assert de.realise(f.Absent(NP("circle", "purple"))) == "Es gibt keinen violetten Kreis."
    assert de.realise(f.Phrase(NP("square", "black", "small"))) == "Ein kleines schwarzes Quadrat."
    relation = f.RelationQuestion(NP("circle", "red"), "left_of", NP("heart", "black"))
    assert de.realise(relation) == "Ist der rote Kreis links vom schwarzen Herzen?"
    assert de.realise(f.Recolour(NP("star", "yellow"), "orange")) == (
        "den gelben Stern orange färben"
    )


def test_turkish_suffixes_follow_vowel_harmony_and_softening() -> None:
    words = {w: tr._Word(w) for w in ("daire", "yıldız", "üçgen", "artı", "kutu", "resim")}
    kalp = tr._NOUNS["heart"]
    assert [tr.plural(w) for w in (words["daire"], words["yıldız"], kalp)] == [
        "daireler",
        "yıldızlar",
        "kalpler",
    ]
    assert [
        tr.genitive(w)
        for w in (words["daire"], words["yıldız"], words["üçgen"], words["artı"], kalp)
    ] == ["dairenin", "yıldızın", "üçgenin", "artının", "kalbin"]
    assert [tr.accusative(w) for w in (words["daire"], words["artı"], kalp)] == [
        "daireyi",
        "artıyı",
        "kalbi",
    ]
    assert [tr.locative(w) for w in (words["kutu"], words["resim"], kalp)] == [
        "kutuda",
        "resimde",
        "kalpte",
    ]
    assert [tr.dative(tr._Word(c)) for c in ("mavi", "kırmızı", "mor", "yeşil", "siyah")] == [
        "maviye",
        "kırmızıya",
        "mora",
        "yeşile",
        "siyaha",
    ]
    assert [tr.possessive_locative(tr._Word(p)) for p in ("sol", "sağ", "üst", "alt")] == [
        "solunda",
        "sağında",
        "üstünde",
        "altında",
    ]
    assert tr.question_particle("üstünde") == "mi"
    assert tr.question_particle("solunda") == "mı"
    assert grammar("tr").capitalise("iki") == "İki"


def test_swahili_agreement_by_noun_class() -> None:
    assert [sw.adjective("ekundu", c) for c in (3, 4, 7, 8, 9, 10)] == [
        "mwekundu",
        "myekundu",
        "chekundu",
        "vyekundu",
        "nyekundu",
        "nyekundu",
    ]
    assert [sw.adjective("dogo", c) for c in (3, 4, 9)] == ["mdogo", "midogo", "ndogo"]
    assert [sw.numeral(2, c) for c in (4, 8, 10)] == ["miwili", "viwili", "mbili"]
    assert [sw.numeral(1, c) for c in (3, 7, 9)] == ["mmoja", "kimoja", "moja"]
    assert sw.numeral(7, 4) == "saba"
    assert [sw.colour("blue", c) for c in (3, 4, 7, 9, 10)] == [
        "wa bluu",
        "ya bluu",
        "cha bluu",
        "ya bluu",
        "za bluu",
    ]
    count = f.CountQuestion(NP("triangle", "red"))
    assert grammar("sw").realise(count) == "Kuna pembetatu ngapi nyekundu?"
    phrase = f.Phrase(NP("star", "yellow", "small"))
    assert grammar("sw").realise(phrase) == "Nyota ndogo ya njano."


def test_tamil_sandhi_and_case() -> None:
    assert ta.case("வட்டம்", "ஐ") == "வட்டத்தை"
    assert ta.case("வட்டம்", "இன்") == "வட்டத்தின்"
    assert ta.case("சிலுவை", "ஐ") == "சிலுவையை"
    assert ta.case("பொருள்", "இன்") == "பொருளின்"
    assert ta.join("பெட்டியில்", "உம்") == "பெட்டியிலும்"
    assert [ta.join(c, "ஆக") for c in ("சிவப்பு", "நீலம்", "பச்சை", "ஊதா", "மஞ்சள்")] == [
        "சிவப்பாக",
        "நீலமாக",
        "பச்சையாக",
        "ஊதாவாக",
        "மஞ்சளாக",
    ]
    assert ta.then("வட்டத்தை", "கீழே") == "வட்டத்தைக் கீழே"
    assert ta.then("வட்டத்தை", "அகற்றவும்") == "வட்டத்தை அகற்றவும்"
    relation = f.Relation(NP("star", "yellow"), "right_of", NP("cross", "purple"))
    assert grammar("ta").realise(relation) == ("ஊதா சிலுவையின் வலதுபுறத்தில் ஒரு மஞ்சள் நட்சத்திரம் உள்ளது.")


def test_chinese_measure_words_and_liang() -> None:
    zh = grammar("zh")
    assert zh.realise(f.Exists((f.Item(NP("star", "red"), 2),))) == "图中有两颗红色的星星。"
    assert zh.realise(f.Exists((f.Item(NP("circle"), 3),))) == "图中有三个圆形。"
    assert zh.realise(f.CountQuestion(NP())) == "图中有几个图形？"


def test_indonesian_lists_and_modifiers() -> None:
    id_ = grammar("id")
    two = f.Exists((f.Item(NP("circle", "red")), f.Item(NP("square", "blue"))))
    assert id_.realise(two) == "Ada sebuah lingkaran merah dan sebuah persegi biru."
    assert id_.realise(f.Phrase(NP("star", "yellow", "small"))) == (
        "Sebuah bintang kuning yang kecil."
    )
