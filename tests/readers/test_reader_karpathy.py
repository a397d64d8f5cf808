"""Karpathy split files, written as documented (dataset_coco.json, dataset_flickr30k.json)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reader_files import write_json

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError

MOPED = "A man with a red helmet on a small moped on a dirt road. "


def _sentence(raw: str, imgid: int, sentid: int) -> dict:
    return {"tokens": raw.lower().strip(" .").split(), "raw": raw, "imgid": imgid, "sentid": sentid}


def _coco_file(folder: Path) -> Path:
    return write_json(
        folder / "dataset_coco.json",
        {
            "dataset": "coco",
            "images": [
                {
                    "filepath": "val2014",
                    "sentids": [770337, 1],
                    "filename": "COCO_val2014_000000391895.jpg",
                    "imgid": 0,
                    "split": "test",
                    "sentences": [
                        _sentence(
                            "A man with a red helmet on a small moped on a dirt road. ", 0, 770337
                        ),
                        _sentence(
                            "Man riding a motor bike on a dirt road on the countryside.", 0, 771687
                        ),
                    ],
                    "cocoid": 391895,
                },
                {
                    "filepath": "val2014",
                    "sentids": [681330],
                    "filename": "COCO_val2014_000000522418.jpg",
                    "imgid": 1,
                    "split": "restval",
                    "sentences": [
                        _sentence("A woman wearing a net on her head cutting a cake. ", 1, 681330)
                    ],
                    "cocoid": 522418,
                },
            ],
        },
    )


def test_karpathy_coco(tmp_path: Path) -> None:
    file = _coco_file(tmp_path)
    data = read_dataset(f"karpathy:{file}", images=tmp_path / "coco")
    first, second = data.records
    assert first.id == first.image_id == "391895"
    assert first.split == "test" and second.split == "restval"
    assert first.captions == (
        "A man with a red helmet on a small moped on a dirt road.",
        "Man riding a motor bike on a dirt road on the countryside.",
    )
    assert first.image == tmp_path / "coco" / "val2014" / "COCO_val2014_000000391895.jpg"
    assert first.source == "karpathy-coco" and first.language == "en"
    assert first.meta["sentids"] == [770337, 1]
    assert len(data.missing_images) == 2


def test_karpathy_merge_restval_and_folder_spec(tmp_path: Path) -> None:
    _coco_file(tmp_path)
    data = read_dataset(f"karpathy:{tmp_path}", merge_restval=True)
    assert [r.split for r in data] == ["test", "train"]
    assert data.records[1].meta["original_split"] == "restval"
    train = read_dataset(f"karpathy:{tmp_path}", split="train", merge_restval=True)
    assert [r.id for r in train] == ["522418"]
    assert read_dataset(f"karpathy:{tmp_path}", split="train").records == []


def test_karpathy_flickr30k_names_images_by_file(tmp_path: Path) -> None:
    file = write_json(
        tmp_path / "dataset_flickr30k.json",
        {
            "dataset": "flickr30k",
            "images": [
                {
                    "sentids": [0, 1],
                    "imgid": 0,
                    "sentences": [
                        _sentence("Two young guys with shaggy hair look at their hands.", 0, 0),
                        _sentence("Two young, White males are outside near many bushes.", 0, 1),
                    ],
                    "split": "train",
                    "filename": "1000092795.jpg",
                }
            ],
        },
    )
    (record,) = read_dataset(f"karpathy:{file}").records
    assert record.id == "1000092795"
    assert record.image == tmp_path / "1000092795.jpg"
    assert record.source == "karpathy-flickr30k"


def test_karpathy_missing_raw_names_the_sentence(tmp_path: Path) -> None:
    file = _coco_file(tmp_path)
    text = file.read_text(encoding="utf-8").replace('"raw": "Man riding', '"text": "Man riding')
    file.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"karpathy:{file}")
    assert info.value.field == "images[0].sentences[1].raw"


def test_karpathy_folder_with_two_files_is_ambiguous(tmp_path: Path) -> None:
    _coco_file(tmp_path)
    write_json(tmp_path / "dataset_flickr8k.json", {"dataset": "flickr8k", "images": []})
    with pytest.raises(DataFormatError, match="exactly one"):
        read_dataset(f"karpathy:{tmp_path}")
