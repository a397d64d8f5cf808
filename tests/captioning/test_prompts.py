"""Prompt templates: one data file, the exact prompt per language and template set."""

from __future__ import annotations

from pathlib import Path

import pytest

from vislang.errors import ConfigError, DataFormatError
from vislang.retrieval.prompts import (
    TEMPLATES_FILE,
    PromptTemplate,
    load_template,
    template_sets,
)

WORLD_LANGUAGES = ("en", "de", "tr", "zh", "sw", "id", "ta")
CAPTIONS = ["There is a red circle.", "There are two objects."]


def test_smallcap_template_is_the_papers() -> None:
    template = load_template("smallcap", "en")
    assert template.prompt(["a dog on a beach", "a brown dog"]) == (
        "Similar images show\n\na dog on a beach\n\na brown dog.\n\nThis image shows"
    )
    assert template.prompt([]) == "This image shows"
    assert template.caption_text("a dog") == " a dog"


@pytest.mark.parametrize(
    ("language", "name"),
    [("en", "English"), ("de", "German"), ("sw", "Swahili"), ("quz", "Cusco Quechua")],
)
def test_paella_templates_name_the_language(language: str, name: str) -> None:
    template = load_template("paella", language)
    question = f"A caption I can generate to describe this image in {name} is:"
    assert template.prompt(["a", "b"]) == f"Similar images show: a || b. {question}"
    assert template.prompt(()) == question


def test_a_language_without_a_name_is_named_by_its_code() -> None:
    assert load_template("paella", "xx").prompt(()).endswith("in xx is:")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Similar images: There is a red circle. There are two objects. This image:"),
        ("de", "Ähnliche Bilder: There is a red circle. There are two objects. Dieses Bild:"),
        ("zh", "相似的图片：There is a red circle.There are two objects.这张图片："),
        ("ta", "ஒத்த படங்கள்: There is a red circle. There are two objects. இந்தப் படம்:"),
    ],
)
def test_world_templates_are_in_the_captions_language(language: str, expected: str) -> None:
    assert load_template("world", language).prompt(CAPTIONS) == expected


def test_chinese_captions_follow_the_prompt_without_a_space() -> None:
    assert load_template("world", "zh").caption_text("图中有一个圆形。") == "图中有一个圆形。"
    assert load_template("world", "de").caption_text("Es gibt") == " Es gibt"


def test_sentencepiece_tokenizers_get_no_separating_space() -> None:
    assert load_template("paella", "en").caption_text("a dog", word_marks=True) == "a dog"


def test_lmcap_few_shot_prompt_with_end_of_text_tokens() -> None:
    template = load_template("lmcap", "es")
    demo = template.demonstration_block(["dos perros"], "un perro", eos="</s>")
    assert demo == (
        "I am an intelligent image captioning bot. Similar images have the following captions: "
        "dos perros</s> A creative short caption I can generate to describe this image in "
        "Spanish is: un perro</s>"
    )
    prompt = template.few_shot_prompt([demo, demo], ["a", "b"], eos="</s>")
    assert prompt.startswith(demo + " " + demo + " I am an intelligent")
    assert prompt.endswith("captions: a</s> b</s> A creative short caption I can generate to "
                           "describe this image in Spanish is:")  # fmt: skip


def test_extended_sets_inherit_fields_and_language_tables() -> None:
    world, few_shot = load_template("world", "zh"), load_template("world-lmcap", "zh")
    assert few_shot.with_retrieval == world.with_retrieval
    assert few_shot.separator == "" and few_shot.caption_separator == ""
    assert few_shot.is_few_shot and not world.is_few_shot
    block = few_shot.demonstration_block(["图中有一个圆形。"], "图中有两个圆形。")
    assert block == "相似的图片：图中有一个圆形。这张图片：图中有两个圆形。"
    assert few_shot.few_shot_prompt([block], ()) == block + "\n这张图片："


@pytest.mark.parametrize(
    ("language", "without"),
    [("en", "This image:"), ("de", "Dieses Bild:"), ("zh", "这张图片："), ("sw", "Picha hii:")],
)
def test_paragraph_prompts_are_the_retrieved_captions_the_caption_continues(
    language: str, without: str
) -> None:
    template = load_template("world-paragraph", language)
    prompt = template.prompt(CAPTIONS)
    assert prompt == "There is a red circle. There are two objects."
    assert prompt + template.caption_text("A circle.", prompt=prompt) == (
        "There is a red circle. There are two objects. A circle."
    )  # as the document-trained LM read an image's captions, Chinese included
    assert template.prompt(()) == without  # without retrieval the language is still named


def test_a_caption_after_an_empty_prompt_starts_the_text() -> None:
    template = load_template("world", "en")
    assert template.caption_text("A circle.", prompt="") == "A circle."
    assert template.caption_text("A circle.", prompt="This image:") == " A circle."


def test_paragraph_demonstrations_are_one_paragraph_per_line() -> None:
    template = load_template("world-paragraph-lmcap", "de")
    block = template.demonstration_block(["Ein Kreis."], "Zwei Kreise.")
    assert block == "Ein Kreis. Zwei Kreise."
    assert (
        template.few_shot_prompt([block], ["Ein Stern."]) == "Ein Kreis. Zwei Kreise.\nEin Stern."
    )


def test_every_set_renders_in_every_named_language() -> None:
    sets = template_sets()
    assert {"smallcap", "paella", "lmcap", "world", "world-lmcap", "world-paragraph"} <= set(sets)
    for name in sets:
        for language in WORLD_LANGUAGES:
            template = load_template(name, language)
            assert "{" not in template.prompt(CAPTIONS, eos="</s>")
            assert template.prompt((), eos="</s>") != template.prompt(CAPTIONS, eos="</s>")


def test_templates_round_trip_through_their_saved_form() -> None:
    template = load_template("world", "sw")
    assert PromptTemplate.from_dict(template.to_dict()) == template
    assert template.to_dict()["with_retrieval"].startswith("Picha zinazofanana:")


def test_shipped_file_is_the_one_read() -> None:
    assert TEMPLATES_FILE.name == "prompt_templates.toml" and TEMPLATES_FILE.is_file()


def test_unknown_sets_and_placeholders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no prompt set 'nope'"):
        load_template("nope", "en")
    path = tmp_path / "t.toml"
    path.write_text('[sets.x]\nwith_retrieval = "{captions} {colour}"\nwithout_retrieval = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown placeholder \{colour\}"):
        load_template("x", "en", path).prompt(["a"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[sets.x]\nwithout_retrieval = "x"\n', "sets.x.with_retrieval"),
        ('[sets.x]\nwith_retrieval = "a"\nwithout_retrieval = "x"\nsize = "3"\n', "sets.x.size"),
        ('[sets.x]\nwith_retrieval = 3\nwithout_retrieval = "x"\n', "sets.x.with_retrieval"),
        ('[sets.x]\nextends = "y"\n', "extends unknown set 'y'"),
        ("[sets.x\n", "not valid TOML"),
        ("[languages]\nen = 'English'\n", "field 'sets'"),
    ],
)
def test_malformed_template_files_name_the_field(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=match) as error:
        load_template("x", "en", path)
    assert str(path) in str(error.value)
