"""NLVR (v1) on the real dev and test files with their images, NLVR2 on written files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reader_files import write_jsonl

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError


@pytest.fixture(scope="module")
def nlvr(shared_data: Path):
    return read_dataset(f"nlvr:{shared_data / 'nlvr1'}")


def test_nlvr_counts_and_labels(nlvr) -> None:
    dev = [r for r in nlvr if r.split == "dev"]
    test = [r for r in nlvr if r.split == "test"]
    # 989 and 990 lines: the files end without a newline, so `wc -l` shows one less
    assert (len(dev), len(test)) == (989, 990)
    assert (sum(r.label for r in dev), sum(not r.label for r in dev)) == (547, 442)
    assert (sum(r.label for r in test), sum(not r.label for r in test)) == (556, 434)


def test_nlvr_every_statement_has_its_six_images(nlvr) -> None:
    assert all(len(r.images) == 6 for r in nlvr)
    assert nlvr.missing_images == []
    assert len(nlvr.image_paths()) == 6 * 1979


def test_nlvr_statement_1572_0(nlvr, shared_data: Path) -> None:
    record = next(r for r in nlvr if r.id == "dev-1572-0")
    assert record.statement == "Each grey box contains atleast one yellow object touching the edge"
    assert record.label is True
    folder = shared_data / "nlvr1" / "dev" / "images" / "2"
    assert record.images == tuple(folder / f"dev-1572-0-{k}.png" for k in range(6))
    scene = record.meta["structured_rep"]
    assert [len(box) for box in scene] == [3, 2, 5]
    assert scene[0][1] == {
        "y_loc": 47,
        "type": "circle",
        "color": "Yellow",
        "x_loc": 90,
        "size": 10,
    }
    assert record.meta["evals"] == {
        "r1": "true",
        "r6": "true",
        "r0": "true",
        "r2": "true",
        "r3": "true",
    }


def test_nlvr_one_split_file(shared_data: Path) -> None:
    data = read_dataset(f"nlvr:{shared_data / 'nlvr1' / 'test' / 'test.json'}")
    assert len(data) == 990 and data.splits() == ["test"] and data.missing_images == []


def _nlvr_line(**changes) -> dict:
    line = {
        "sentence": "There is a black square.",
        "label": "false",
        "identifier": "7-1",
        "directory": "0",
        "evals": {},
        "structured_rep": [
            [{"y_loc": 1, "type": "square", "color": "Black", "x_loc": 2, "size": 10}],
            [],
            [],
        ],
    }
    return {**line, **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"label": "maybe"}, "label"),
        ({"structured_rep": [[], []]}, "structured_rep"),
        ({"structured_rep": [[{"type": "square"}], [], []]}, "structured_rep[0][0].color"),
        ({"identifier": 7}, "identifier"),
    ],
)
def test_nlvr_malformed_lines_name_line_and_field(
    tmp_path: Path, changes: dict, field: str
) -> None:
    file = write_jsonl(tmp_path / "dev" / "dev.json", [_nlvr_line(), _nlvr_line(**changes)])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"nlvr:{tmp_path}")
    assert (info.value.path, info.value.line, info.value.field) == (str(file), 2, field)


def _nlvr2_lines() -> list[dict]:
    base = {
        "validation": {"77": "True"},
        "writer": "103",
        "synset": "beer bottle",
        "query": "some beer bottles2",
        "extra_validations": {"56": "True", "43": "False"},
        "left_url": "https://example.org/left.jpg",
        "right_url": "https://example.org/right.jpg",
    }
    return [
        {**base, "sentence": "All the bottles are from the same brand.", "label": "True",
         "identifier": "test1-189-0-0"},
        {**base, "sentence": "There are exactly seven bottles.", "label": "False",
         "identifier": "test1-189-3-1"},
    ]  # fmt: skip


def test_nlvr2_images_follow_the_identifier(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test1.json", _nlvr2_lines())
    data = read_dataset(f"nlvr2:{tmp_path / 'test1.json'}", images=tmp_path / "imgs")
    first, second = data.records
    assert first.images == (
        tmp_path / "imgs" / "test1-189-0-img0.png",
        tmp_path / "imgs" / "test1-189-0-img1.png",
    )
    assert (first.label, second.label) == (True, False)
    assert second.images[1].name == "test1-189-3-img1.png"
    assert first.split == "test1" and first.meta["synset"] == "beer bottle"
    assert len(data.missing_images) == 4


def test_nlvr2_training_images_use_the_directory(tmp_path: Path) -> None:
    line = {**_nlvr2_lines()[0], "identifier": "train-10171-0-0", "directory": 91}
    write_jsonl(tmp_path / "train.json", [line])
    (record,) = read_dataset(f"nlvr2:{tmp_path}").records
    assert record.images[0] == tmp_path / "images" / "91" / "train-10171-0-img0.png"


def test_nlvr2_bad_identifier(tmp_path: Path) -> None:
    line = {**_nlvr2_lines()[0], "identifier": "dev-850-0"}
    write_jsonl(tmp_path / "dev.json", [json.dumps(line)])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"nlvr2:{tmp_path}")
    assert (info.value.line, info.value.field) == (1, "identifier")
