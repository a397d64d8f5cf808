"""Per-language caption tokenisation."""

from __future__ import annotations

import pytest
from caption_fixtures import xflickrco_captions

from vislang.metrics import tokenizer_for


def test_english_uses_the_coco_tokenisation() -> None:
    tokenize = tokenizer_for("en")
    assert tokenize.name == "coco-ptb"
    assert tokenize(["A Dog's toy, (red)."]) == [["a", "dog", "'s", "toy", "-lrb-", "red", "-rrb-"]]


@pytest.mark.parametrize("language", ["zh", "ja", "th", "zh-Hant", "ja_JP"])
def test_languages_without_spaces_are_split_into_characters(language) -> None:
    tokenize = tokenizer_for(language)
    assert tokenize.name == "char+13a"
    assert tokenize(["一只狗在跑。"]) == [["一", "只", "狗", "在", "跑"]]


def test_character_segmentation_keeps_latin_words_and_numbers_whole() -> None:
    assert tokenizer_for("ja")(["2匹のDogがいる"]) == [["2", "匹", "の", "dog", "が", "い", "る"]]


def test_thai_marks_stay_on_their_letter() -> None:
    # นั่ง: น + mark ั + mark ่ + ง; the marks never stand alone
    assert tokenizer_for("th")(["นั่ง"]) == [["นั่", "ง"]]


def test_other_languages_use_13a_lower_cased_without_punctuation() -> None:
    tokenize = tokenizer_for("de")
    assert tokenize.name == "13a"
    assert tokenize(["Der Mann trägt eine Mütze, nicht wahr?"]) == [
        ["der", "mann", "trägt", "eine", "mütze", "nicht", "wahr"]
    ]


def test_unknown_or_empty_language_codes() -> None:
    assert tokenizer_for("sw").name == "13a"
    with pytest.raises(ValueError, match="language code"):
        tokenizer_for(" ")


@pytest.mark.parametrize("language", ["de", "es", "id", "ja", "ru", "tr", "zh"])
def test_real_captions_give_clean_tokens(shared_data, language) -> None:
    tokens = tokenizer_for(language)(xflickrco_captions(shared_data, language)[:200])
    assert all(tokens)  # every caption keeps some tokens
    flat = [token for caption in tokens for token in caption]
    assert all(token == token.lower() and token.split() == [token] for token in flat)
