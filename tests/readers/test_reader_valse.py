"""VALSE: all eleven real pieces with their validity counts, and malformed items."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from reader_files import write_json

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError

# items and valid items (mturk.caption >= 2) per piece, counted in the files by hand
PIECES = {
    "actant-swap": (1042, 949),
    "action-replacement": (779, 648),
    "coreference-hard": (141, 104),
    "coreference-standard": (916, 708),
    "counting-adversarial": (756, 691),
    "counting-hard": (1000, 868),
    "counting-small-quant": (1000, 900),
    "existence": (534, 505),
    "foil-it": (1000, 943),
    "plurals": (1000, 851),
    "relations": (614, 535),
}


@pytest.fixture(scope="module")
def valse(shared_data: Path):
    return read_dataset(f"valse:{shared_data / 'valse'}")


def test_valse_piece_and_validity_counts(valse) -> None:
    assert Counter(r.phenomenon for r in valse) == {p: n for p, (n, _) in PIECES.items()}
    assert Counter(r.phenomenon for r in valse if r.valid) == {p: v for p, (_, v) in PIECES.items()}
    # 7,702 valid of 8,782 items (the shared README's 8,836 total does not match the files)
    assert (len(valse), sum(r.valid for r in valse)) == (8782, 7702)


def test_valse_same_item_id_in_two_pieces(valse) -> None:
    by_id = {r.id: r for r in valse}
    swap = by_id["actant-swap/actions_test_0"]
    replace = by_id["action-replacement/actions_test_0"]
    assert swap.caption == replace.caption == "A man exercises his torso."
    assert swap.foil == "A torso exercises for a man."
    assert replace.foil == "A man lifts his torso."
    assert swap.valid and replace.valid  # 3 and 2 of 3 annotators chose the caption
    assert swap.meta["mturk"] == {"foil": 0, "caption": 3, "other": 0}
    assert swap.meta["linguistic_phenomena"] == "actions"
    assert swap.meta["dataset"] == "SWiG"


def test_valse_invalid_item(valse, shared_data: Path) -> None:
    record = next(r for r in valse if r.id == "existence/existence_visual7w_150304")
    assert record.valid is False
    assert record.caption == "There are no players in the outfield."
    assert record.foil == "There are players in the outfield."
    assert record.image == shared_data / "valse" / "images" / "v7w_150304.jpg"


def test_valse_images_are_reported_missing(valse) -> None:
    assert len(valse.missing_images) == 8782
    assert len(valse.image_paths()) == 6813


def test_valse_missing_votes_name_item_and_field(tmp_path: Path) -> None:
    item = {
        "caption": "There are 2 dogs.", "foil": "There are 3 dogs.", "image_file": "d.jpg",
        "dataset": "visual7w", "linguistic_phenomena": "counting",
        "mturk": {"foil": 0, "caption": 3, "other": 0},
    }  # fmt: skip
    write_json(
        tmp_path / "counting-hard.json",
        {"a": item, "b": {**item, "mturk": {"foil": 1, "other": 0}}},
    )
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"valse:{tmp_path}")
    assert info.value.field == "b.mturk.caption"
    assert info.value.path.endswith("counting-hard.json")
    data = read_dataset(f"valse:{tmp_path}", on_bad_item="skip")
    assert [r.id for r in data] == ["counting-hard/a"]
    assert [s.item_id for s in data.skipped] == ["b"]
