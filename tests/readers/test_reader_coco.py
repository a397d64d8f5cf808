"""COCO captions: the real coco-mini subset, and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_json

from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.errors import DataFormatError


@pytest.fixture(scope="module")
def coco(shared_data: Path):
    return read_dataset(f"coco:{shared_data / 'coco-mini'}")


def test_coco_mini_counts(coco) -> None:
    assert len(coco) == 57
    assert {r.split: 0 for r in coco}.keys() == {"train", "val"}
    assert sum(r.split == "train" for r in coco) == 29
    assert sum(r.split == "val" for r in coco) == 28
    assert sum(len(r.captions) for r in coco) == 285
    assert all(len(r.captions) == 5 for r in coco)
    assert coco.languages() == ["en"]
    assert coco.missing_images == [] and coco.skipped == []


def test_coco_mini_image_397133(coco, shared_data: Path) -> None:
    record = next(r for r in coco if r.id == "397133")
    assert isinstance(record, CaptionExample)
    assert record.split == "val"
    assert record.image == shared_data / "coco-mini" / "val2017" / "000000397133.jpg"
    assert record.image.is_file()
    assert record.captions[0] == "A man is in a kitchen making pizzas."
    assert record.captions[2] == "A baker is working in the kitchen rolling dough."
    assert record.meta["width"] == 640 and record.meta["height"] == 427
    assert record.meta["license"] == "Attribution License"  # licence id 4, CC BY 2.0
    assert record.meta["objects"]["bowl"] == 4
    assert record.meta["objects"]["broccoli"] == 3
    assert record.meta["objects"]["dining table"] == 1
    assert sum(record.meta["objects"].values()) == 19


def test_coco_caption_whitespace_is_stripped(coco) -> None:
    record = next(r for r in coco if r.id == "205401")
    assert "Lake or river beach with plane in shallow water." in record.captions


def test_coco_without_instances_has_no_objects(shared_data: Path) -> None:
    data = read_dataset(f"coco:{shared_data / 'coco-mini'}", instances=False)
    assert all("objects" not in r.meta for r in data)


def _coco_folder(tmp_path: Path, captions: dict) -> Path:
    write_json(tmp_path / "annotations" / "captions_val2014.json", captions)
    return tmp_path


def _minimal(annotations: list[dict]) -> dict:
    return {
        "images": [{"id": 1, "file_name": "COCO_val2014_000000000001.jpg"}],
        "annotations": annotations,
    }


def test_coco_2014_layout_and_blank_caption(tmp_path: Path) -> None:
    folder = _coco_folder(
        tmp_path,
        _minimal(
            [
                {"id": 10, "image_id": 1, "caption": "A dog.\n"},
                {"id": 11, "image_id": 1, "caption": "   "},
            ]
        ),
    )
    data = read_dataset(f"coco:{folder}")
    (record,) = data.records
    assert record.split == "val" and record.meta["subset"] == "val2014"
    assert record.captions == ("A dog.",)
    assert record.image == folder / "val2014" / "COCO_val2014_000000000001.jpg"
    assert [m.record_id for m in data.missing_images] == ["1"]
    assert [(s.item_id, s.reason) for s in data.skipped] == [("annotations[1]", "blank caption")]


def test_coco_missing_caption_field_names_it(tmp_path: Path) -> None:
    folder = _coco_folder(tmp_path, _minimal([{"id": 10, "image_id": 1}]))
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"coco:{folder}")
    assert info.value.field == "annotations[0].caption"
    assert info.value.path.endswith("captions_val2014.json")


def test_coco_caption_of_unknown_image(tmp_path: Path) -> None:
    folder = _coco_folder(tmp_path, _minimal([{"id": 10, "image_id": 7, "caption": "x"}]))
    with pytest.raises(DataFormatError, match="image 7") as info:
        read_dataset(f"coco:{folder}")
    assert info.value.field == "annotations[0].image_id"


def test_coco_bad_json_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "annotations" / "captions_val2017.json"
    file.parent.mkdir(parents=True)
    file.write_text('{"images": [],\n "annotations": [,]}\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_dataset(f"coco:{tmp_path}")
    assert info.value.line == 2


def test_coco_skips_bad_items_when_asked(tmp_path: Path) -> None:
    folder = _coco_folder(
        tmp_path,
        _minimal(
            [
                {"id": 10, "image_id": 1, "caption": "A dog."},
                {"id": 11, "image_id": "one", "caption": "A cat."},
            ]
        ),
    )
    data = read_dataset(f"coco:{folder}", on_bad_item="skip")
    assert data.records[0].captions == ("A dog.",)
    (skipped,) = data.skipped
    assert skipped.item_id == "annotations[1]"
    assert "annotations[1].image_id" in skipped.reason
