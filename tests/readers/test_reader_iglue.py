"""IGLUE: xFlickr&CO and MaRVL on the real files, XVNLI on files written as documented."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from reader_files import write_jsonl

from vislang.data.readers import read_dataset
from vislang.data.schema import StatementExample
from vislang.errors import DataFormatError

XFLICKRCO_LANGUAGES = ["de", "en", "es", "id", "ja", "ru", "tr", "zh"]
MARVL_COUNTS = {"id": 1128, "sw": 1108, "ta": 1242, "tr": 1180, "zh": 1012}
MARVL_TRUE = {"id": 564, "sw": 547, "ta": 616, "tr": 588, "zh": 504}


@pytest.fixture(scope="module")
def xflickrco(shared_data: Path):
    return read_dataset(f"xflickrco:{shared_data / 'xflickrco'}")


@pytest.fixture(scope="module")
def marvl(shared_data: Path):
    return read_dataset(f"marvl:{shared_data / 'marvl'}")


def test_xflickrco_all_eight_languages(xflickrco) -> None:
    assert xflickrco.languages() == XFLICKRCO_LANGUAGES
    per_language = Counter(r.language for r in xflickrco)
    assert per_language == {**dict.fromkeys(XFLICKRCO_LANGUAGES, 2000), "de": 1999, "id": 1999}
    assert len({r.image_id for r in xflickrco}) == 2000
    origins = Counter(r.meta["origin"] for r in xflickrco if r.language == "en")
    assert origins == {"flickr30k": 1000, "coco": 1000}


def test_xflickrco_blank_captions_are_listed_not_dropped_silently(xflickrco) -> None:
    skipped = sorted((Path(s.source).name, s.line, s.item_id) for s in xflickrco.skipped)
    assert skipped == [
        ("test-de.jsonl", 1960, "122239/de"),
        ("test-id.jsonl", 901, "6312211170/id"),
    ]


def test_xflickrco_specific_lines(xflickrco, shared_data: Path) -> None:
    by_id = {r.id: r for r in xflickrco}
    first = by_id["1007129816/en"]
    assert first.captions == ("The man with pierced ears is wearing glasses and an orange hat.",)
    assert first.image == shared_data / "xflickrco" / "images" / "1007129816.jpg"
    assert by_id["1007129816/de"].captions == ("Der Mann trägt eine orange Wollmütze.",)
    coco = by_id["391895/en"]  # a COCO line: its id is a JSON number in the file
    assert coco.captions == ("A man with a red helmet on a small moped on a dirt road.",)
    assert coco.image.name == "COCO_val2014_000000391895.jpg"
    assert coco.meta["origin"] == "coco"


def test_xflickrco_images_are_reported_missing(xflickrco) -> None:
    assert len(xflickrco.missing_images) == len(xflickrco) == 15998


def test_marvl_all_five_languages(marvl) -> None:
    assert Counter(r.language for r in marvl) == MARVL_COUNTS
    assert Counter(r.language for r in marvl if r.label) == MARVL_TRUE
    assert all(isinstance(r, StatementExample) and len(r.images) == 2 for r in marvl)
    assert len({r.id for r in marvl}) == 5670


def test_marvl_first_turkish_statement(marvl, shared_data: Path) -> None:
    record = next(r for r in marvl if r.id == "tr-0")
    assert record.statement == (
        "Soldaki resimde bir erkek keman çalıyor, sağdaki resimde ise bir kadın keman tutuyor."
    )
    assert record.label is False
    assert record.meta["concept"] == "42-Keman"
    assert record.meta["chapter"] == "Speech and language"
    assert record.meta["annotator_info"]["annotator_id"] == "tr_03"
    concept = shared_data / "marvl" / "marvl-images" / "tr" / "images" / "42-Keman"
    assert record.images == (concept / "42-9.jpg", concept / "42-5.jpg")


def test_marvl_missing_images_are_reported_per_image(marvl) -> None:
    assert len(marvl.missing_images) == 2 * 5670
    assert {m.record_id for m in marvl.missing_images} == {r.id for r in marvl}


def test_marvl_one_language_file(shared_data: Path) -> None:
    data = read_dataset(f"marvl:{shared_data / 'marvl' / 'marvl-sw.jsonl'}")
    assert len(data) == 1108 and data.languages() == ["sw"]


def test_marvl_bad_label_names_line_and_field(tmp_path: Path) -> None:
    line = {
        "concept": "1-Kucing", "language": "id", "caption": "Ada kucing.", "left_img": "1-1.jpg",
        "right_img": "1-2.jpg", "annotator_info": {}, "chapter": "Animals", "id": "id-0",
        "label": True,
    }  # fmt: skip
    write_jsonl(tmp_path / "marvl-id.jsonl", [line, {**line, "id": "id-1", "label": "maybe"}])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"marvl:{tmp_path}")
    assert (info.value.line, info.value.field) == (2, "label")
    broken = {k: v for k, v in line.items() if k != "right_img"}
    write_jsonl(tmp_path / "marvl-id.jsonl", [line, broken])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"marvl:{tmp_path}")
    assert (info.value.line, info.value.field) == (2, "right_img")


def test_xflickrco_missing_img_path(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test-es.jsonl", [{"sentences": ["Un perro."], "id": "7"}])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"xflickrco:{tmp_path}")
    assert (info.value.line, info.value.field) == (1, "img_path")


def _xvnli_line(gold: str, pair: str) -> dict:
    return {
        "gold_label": gold,
        "sentence1": "Un homme dans un t-shirt à col bleu qui pose devant quelqu'un.",
        "sentence2": "Il lit le journal.",
        "captionID": "759822302.jpg#2",
        "pairID": pair,
        "Flikr30kID": "759822302",
    }


def test_xvnli_three_way_labels(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "annotations" / "fr" / "test.jsonl",
        [
            _xvnli_line("contradiction", "759822302.jpg#2r1c"),
            _xvnli_line("neutral", "759822302.jpg#2r1n"),
            _xvnli_line("entailment", "759822302.jpg#2r1e"),
            _xvnli_line("-", "2424111022.jpg#4r1c"),
        ],
    )
    data = read_dataset(f"xvnli:{tmp_path}")
    assert [r.meta["gold_label"] for r in data] == ["contradiction", "neutral", "entailment"]
    assert [r.label for r in data] == [False, False, True]
    first = data.records[0]
    assert first.id == "fr/759822302.jpg#2r1c"
    assert first.language == "fr" and first.split == "test"
    assert first.images == (tmp_path / "images" / "759822302.jpg",)
    assert first.statement == "Il lit le journal."
    assert [(s.item_id, s.line) for s in data.skipped] == [("2424111022.jpg#4r1c", 4)]


def test_xvnli_unknown_gold_label(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "ru" / "test.jsonl", [_xvnli_line("yes", "1")])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"xvnli:{file}")
    assert (info.value.line, info.value.field) == (1, "gold_label")
