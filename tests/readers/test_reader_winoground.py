"""Winoground examples.jsonl with its images folder, written as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_image, write_jsonl

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError

EXAMPLES = [
    {
        "id": 0, "image_0": "ex_0_img_0", "image_1": "ex_0_img_1",
        "caption_0": "an old person kisses a young person",
        "caption_1": "a young person kisses an old person",
        "tag": "Object", "secondary_tag": "", "num_main_preds": 1, "collapsed_tag": "Object",
    },
    {
        "id": 1, "image_0": "ex_1_img_0", "image_1": "ex_1_img_1",
        "caption_0": "the taller person hugs the shorter person",
        "caption_1": "the shorter person hugs the taller person",
        "tag": "Relation", "secondary_tag": "Symbolic", "num_main_preds": 1,
        "collapsed_tag": "Relation",
    },
]  # fmt: skip


def test_winoground_groups(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "examples.jsonl", EXAMPLES)
    for k in range(2):
        write_image(tmp_path / "images" / f"ex_0_img_{k}.png")
    data = read_dataset(f"winoground:{tmp_path}")
    first, second = data.records
    assert first.id == "0"
    assert first.images == (
        tmp_path / "images" / "ex_0_img_0.png",
        tmp_path / "images" / "ex_0_img_1.png",
    )
    assert first.captions == (
        "an old person kisses a young person",
        "a young person kisses an old person",
    )
    assert (first.tag, first.secondary_tag, first.collapsed_tag) == ("Object", None, "Object")
    assert second.secondary_tag == "Symbolic" and second.meta["num_main_preds"] == 1
    assert [m.record_id for m in data.missing_images] == ["1", "1"]


def test_winoground_missing_caption(tmp_path: Path) -> None:
    broken = {k: v for k, v in EXAMPLES[1].items() if k != "caption_1"}
    write_jsonl(tmp_path / "examples.jsonl", [EXAMPLES[0], broken])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"winoground:{tmp_path / 'examples.jsonl'}")
    assert (info.value.line, info.value.field) == (2, "caption_1")
