"""The helpers every reader takes values through: errors name the file, the line and the field."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from vislang.data.readers.fields import (
    json_lines,
    need,
    need_label,
    need_strings,
    read_text,
    split_blank,
)
from vislang.errors import DataFormatError

FILE = Path("data.jsonl")


def test_need_names_missing_and_mistyped_fields() -> None:
    with pytest.raises(DataFormatError, match="missing") as info:
        need({}, "id", str, path=FILE, line=4, where="images[2].")
    assert (info.value.path, info.value.line, info.value.field) == ("data.jsonl", 4, "images[2].id")
    assert str(info.value) == "data.jsonl:4: field 'images[2].id': missing"
    with pytest.raises(DataFormatError, match="expected an integer, got 'seven'"):
        need({"id": "seven"}, "id", int, path=FILE)
    with pytest.raises(DataFormatError, match="expected an integer, got true"):
        need({"id": True}, "id", int, path=FILE)  # a bool is not an integer here
    with pytest.raises(DataFormatError, match="is empty"):
        need({"caption": "  "}, "caption", str, path=FILE)
    assert need({"caption": " "}, "caption", str, path=FILE, allow_empty=True) == " "


def test_need_label_accepts_booleans_and_their_spellings() -> None:
    assert need_label({"label": True}, "label", path=FILE) is True
    assert need_label({"label": "False"}, "label", path=FILE) is False
    assert need_label({"label": "true"}, "label", path=FILE) is True
    with pytest.raises(DataFormatError, match="expected true or false"):
        need_label({"label": "yes"}, "label", path=FILE, line=3)
    with pytest.raises(DataFormatError, match="got 1"):
        need_label({"label": 1}, "label", path=FILE)


def test_need_strings_and_split_blank() -> None:
    with pytest.raises(DataFormatError) as info:
        need_strings({"sentences": ["a", 2]}, "sentences", path=FILE, line=9)
    assert info.value.field == "sentences[1]"
    assert split_blank([" A dog. ", "", "  ", "A cat."]) == (("A dog.", "A cat."), 2)


def test_json_lines_skips_blank_lines_and_rejects_non_objects(tmp_path: Path) -> None:
    file = tmp_path / "x.jsonl"
    file.write_text('{"a": 1}\n\n[1, 2]\n', encoding="utf-8")
    rows = json_lines(file)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(DataFormatError, match="expected a JSON object") as info:
        next(rows)
    assert info.value.line == 3


def test_read_text_handles_bom_gzip_and_broken_gzip(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes("\ufeffhallo\n".encode())
    assert read_text(tmp_path / "bom.txt") == "hallo\n"
    (tmp_path / "z.txt.gz").write_bytes(gzip.compress("grüß\n".encode()))
    assert read_text(tmp_path / "z.txt.gz") == "grüß\n"
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(DataFormatError, match="gzip"):
        read_text(tmp_path / "bad.gz")
    with pytest.raises(DataFormatError, match="file not found"):
        read_text(tmp_path / "absent.txt")
