"""Crossmodal-3600 captions.jsonl, written as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_image, write_jsonl

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError


def _entry(*captions: str) -> dict:
    return {
        "caption": list(captions),
        "caption/tokenized": [c.strip(".") for c in captions],
        "caption/tokenized/lowercase": [c.lower().strip(".") for c in captions],
    }


def _xm3600(folder: Path, *extra: dict | str) -> Path:
    write_jsonl(
        folder / "captions.jsonl",
        [
            {
                "image/key": "000411001ff7dd4f",
                "image/locale": "en",
                "en": _entry("A white cup on a table.", "A cup of tea."),
                "de": _entry("Eine weiße Tasse auf einem Tisch."),
                "sw": _entry("  "),
            },
            {"image/key": "0037a9c05fb4e1b1", "en": _entry("Two dogs in the snow.")},
            *extra,
        ],
    )
    write_image(folder / "images" / "000411001ff7dd4f.jpg")
    return folder


def test_xm3600_one_record_per_image_and_language(tmp_path: Path) -> None:
    data = read_dataset(f"xm3600:{_xm3600(tmp_path)}")
    assert [r.id for r in data] == [
        "000411001ff7dd4f/en",
        "000411001ff7dd4f/de",
        "0037a9c05fb4e1b1/en",
    ]
    first = data.records[0]
    assert first.image_id == "000411001ff7dd4f"
    assert first.captions == ("A white cup on a table.", "A cup of tea.")
    assert first.image == tmp_path / "images" / "000411001ff7dd4f.jpg"
    assert first.meta == {"image/locale": "en"}
    assert first.split == "test"
    assert data.languages() == ["de", "en"]
    assert [m.record_id for m in data.missing_images] == ["0037a9c05fb4e1b1/en"]
    assert [(s.item_id, s.line) for s in data.skipped] == [("000411001ff7dd4f/sw", 1)]


def test_xm3600_missing_caption_names_the_language(tmp_path: Path) -> None:
    _xm3600(tmp_path, {"image/key": "00aa", "fr": {"caption/tokenized": ["un chat"]}})
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"xm3600:{tmp_path / 'captions.jsonl'}")
    assert (info.value.line, info.value.field) == (3, "fr.caption")


def test_xm3600_bad_json_line(tmp_path: Path) -> None:
    _xm3600(tmp_path, '{"image/key": "00aa", "en": ')
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_dataset(f"xm3600:{tmp_path}")
    assert info.value.line == 3
    assert info.value.path.endswith("captions.jsonl")
