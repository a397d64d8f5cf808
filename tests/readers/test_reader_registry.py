"""The registry and read_dataset: specs, options, filters, missing images, skipped items."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_image, write_jsonl

from vislang.data.readers import (
    MissingImageError,
    ReadContext,
    get_reader,
    list_readers,
    read_dataset,
    register_reader,
)
from vislang.data.readers.registry import parse_options
from vislang.data.schema import CaptionExample, StatementExample
from vislang.errors import ConfigError, DataFormatError

EXPECTED_FORMATS = {
    "coco", "karpathy", "marvl", "mcrae", "multi30k", "nlvr", "nlvr2", "things", "valse",
    "vqav2", "winoground", "world", "xflickrco", "xm3600", "xvnli",
}  # fmt: skip


def _xflickrco(tmp_path: Path) -> Path:
    """Two languages, three images of which only the first exists."""
    for language, texts in {
        "en": ["A dog.", "A cat.", "A cow."],
        "de": ["Ein Hund.", "", "Eine Kuh."],
    }.items():
        write_jsonl(
            tmp_path / f"test-{language}.jsonl",
            [
                {"sentences": [text], "id": str(k), "img_path": f"{k}.jpg"}
                for k, text in enumerate(texts)
            ],
        )
    write_image(tmp_path / "images" / "0.jpg")
    return tmp_path


def test_every_format_is_registered_with_a_card() -> None:
    names = {reader.name for reader in list_readers()}
    assert names == EXPECTED_FORMATS
    for reader in list_readers():
        card = reader.card
        assert card.name == reader.name
        assert card.task_types and set(card.task_types) <= {
            "generation",
            "classification",
            "ranking",
        }
        for factor, text in card.key_factors().items():
            assert text.strip(), f"{reader.name}: empty {factor}"
        assert card.licence and card.citation


def test_spec_must_name_a_known_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FORMAT:PATH"):
        read_dataset(str(tmp_path))
    with pytest.raises(ConfigError, match="unknown dataset format 'cocoa'"):
        read_dataset(f"cocoa:{tmp_path}")


def test_missing_path_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such file"):
        read_dataset(f"xflickrco:{tmp_path / 'nowhere'}")


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no option 'colour'"):
        read_dataset(f"xflickrco:{_xflickrco(tmp_path)}", colour="red")


def test_report_keeps_records_and_lists_missing_images(tmp_path: Path) -> None:
    data = read_dataset(f"xflickrco:{_xflickrco(tmp_path)}")
    assert sorted(r.id for r in data) == ["0/de", "0/en", "1/en", "2/de", "2/en"]
    assert sorted(m.record_id for m in data.missing_images) == ["1/en", "2/de", "2/en"]
    assert {m.path.name for m in data.missing_images} == {"1.jpg", "2.jpg"}
    (skipped,) = data.skipped
    assert (skipped.item_id, skipped.line, skipped.reason) == ("1/de", 2, "blank caption")
    assert skipped.source.endswith("test-de.jsonl")


def test_skip_drops_records_with_missing_images_and_lists_them(tmp_path: Path) -> None:
    data = read_dataset(f"xflickrco:{_xflickrco(tmp_path)}", on_missing_image="skip")
    assert sorted(r.id for r in data) == ["0/de", "0/en"]
    assert len(data.missing_images) == 3


def test_fail_raises_on_the_first_missing_image(tmp_path: Path) -> None:
    with pytest.raises(MissingImageError, match="3 missing in all") as info:
        read_dataset(f"xflickrco:{_xflickrco(tmp_path)}", on_missing_image="fail")
    assert info.value.path.endswith("2.jpg")
    assert isinstance(info.value, DataFormatError)


def test_language_split_and_kind_filters(tmp_path: Path) -> None:
    spec = f"xflickrco:{_xflickrco(tmp_path)}"
    assert [r.id for r in read_dataset(spec, languages=["de"])] == ["0/de", "2/de"]
    assert read_dataset(spec, split="train").records == []
    assert len(read_dataset(spec, split="test")) == 5
    assert len(read_dataset(spec, kinds=(CaptionExample,))) == 5
    assert read_dataset(spec, kinds=(StatementExample,)).records == []
    only_de = read_dataset(spec, languages=["de"])
    assert [m.record_id for m in only_de.missing_images] == ["2/de"]


def test_dataset_helpers(tmp_path: Path) -> None:
    data = read_dataset(f"xflickrco:{_xflickrco(tmp_path)}")
    assert data.languages() == ["de", "en"]
    assert data.splits() == ["test"]
    assert len(data.of_kind(CaptionExample)) == 5
    assert data.kinds() == {"captions": 5}
    assert len(data.image_paths()) == 3
    assert data.format == "xflickrco" and data.card.name == "xflickrco"


def test_bad_line_fails_by_default_and_is_listed_when_skipping(tmp_path: Path) -> None:
    folder = _xflickrco(tmp_path)
    write_jsonl(
        folder / "test-en.jsonl",
        [{"sentences": ["A dog."], "id": "0", "img_path": "0.jpg"}, '{"sentences": ["A cat."', ""],
    )
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_dataset(f"xflickrco:{folder}", languages=["en"])
    assert (Path(info.value.path).name, info.value.line) == ("test-en.jsonl", 2)
    data = read_dataset(f"xflickrco:{folder}", languages=["en"], on_bad_item="skip")
    assert [r.id for r in data] == ["0/en"]
    bad = [s for s in data.skipped if s.source.endswith("test-en.jsonl")]
    assert [(s.line, s.reason.startswith("not valid JSON")) for s in bad] == [(2, True)]


def test_register_reader_checks_names_and_options() -> None:
    card = get_reader("coco").card
    with pytest.raises(ValueError, match="already registered"):
        register_reader("coco", card=card, layout="x", kinds=(CaptionExample,))(
            lambda path, ctx: []
        )

    def read(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list:
        return []

    with pytest.raises(ValueError, match="must document exactly"):
        register_reader("undocumented", card=card, layout="x", kinds=(CaptionExample,))(read)
    assert "undocumented" not in {r.name for r in list_readers()}


def test_parse_options_types_values() -> None:
    assert parse_options(get_reader("coco"), ["images=/data/coco", "instances=false"]) == {
        "images": Path("/data/coco"),
        "instances": False,
    }
    assert parse_options(get_reader("karpathy"), ["merge-restval=yes"]) == {"merge_restval": True}
    with pytest.raises(ConfigError, match="true or false"):
        parse_options(get_reader("coco"), ["instances=maybe"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_options(get_reader("coco"), ["instances"])
    with pytest.raises(ConfigError, match="no option 'image'"):
        parse_options(get_reader("coco"), ["image=x"])
