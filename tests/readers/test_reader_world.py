"""The world reader on small world folders written here with the schema (not the generator)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from reader_files import write_image, write_json, write_jsonl

from vislang.data.readers import read_dataset
from vislang.data.schema import (
    AttributeNorms,
    CaptionExample,
    FoilExample,
    SequenceExample,
    StatementExample,
    Step,
    VQAExample,
    WinogroundExample,
    to_dict,
)
from vislang.errors import DataFormatError


def _records(out: Path) -> dict[str, list]:
    s0, s1 = out / "images" / "s0.png", out / "images" / "s1.png"
    common = {"source": "world"}
    return {
        "captions": [
            CaptionExample(
                "s0/en",
                "s0",
                s0,
                ("a red circle left of a blue square",),
                "en",
                split="train",
                **common,
            ),
            CaptionExample(
                "s0/de",
                "s0",
                s0,
                ("ein roter Kreis links von einem blauen Quadrat",),
                "de",
                split="train",
                **common,
            ),
            CaptionExample("s1/en", "s1", s1, ("a green triangle",), "en", split="test", **common),
        ],
        "vqa": [
            VQAExample(
                "q0",
                s0,
                "what colour is the circle?",
                ("red",) * 3,
                "en",
                split="train",
                answer_type="other",
                **common,
            )
        ],
        "statements": [
            StatementExample(
                "t0", (s0, s1), "both images show a circle", False, "en", split="val", **common
            )
        ],
        "foils": [
            FoilExample(
                "f0", s0, "a red circle", "a blue circle", "colour", "en", split="train", **common
            )
        ],
        "winoground": [
            WinogroundExample(
                "w0",
                (s0, s1),
                ("a circle left of a square", "a square left of a circle"),
                "en",
                tag="relation",
                split="test",
                **common,
            )
        ],
        "sequences": [
            SequenceExample(
                "q1",
                (Step(s0, "add a red circle"), Step(s1, "add a blue square")),
                "remove the circle",
                "en",
                split="train",
                target_atoms={"verb": "remove", "object": "circle"},
                **common,
            )
        ],
        "attributes": [
            AttributeNorms(
                "world-attributes",
                ("circle", "square"),
                ("is_round",),
                {"is_round": "visual-form_and_surface"},
                {"is_round": frozenset({"circle"})},
                "en",
                **common,
            )
        ],
    }


def _world(out: Path, records: dict[str, list] | None = None, **manifest_changes) -> Path:
    records = records if records is not None else _records(out)
    for scene in ("s0", "s1"):
        write_image(out / "images" / f"{scene}.png")
        write_json(out / "images" / f"{scene}.json", {"id": scene, "objects": []})
    for task, task_records in records.items():
        write_jsonl(out / "tasks" / f"{task}.jsonl", [to_dict(r, base=out) for r in task_records])
    checksums = {
        path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((out / "tasks").glob("*.jsonl"))
    }
    manifest = {
        "format": "vislang-world", "version": 1, "seed": 7, "config": {"scenes": 2},
        "counts": {task: len(rs) for task, rs in records.items()}, "checksums": checksums,
    }  # fmt: skip
    write_json(out / "manifest.json", {**manifest, **manifest_changes})
    write_json(
        out / "splits.json",
        {
            "mode": "compositional",
            "held_out_compounds": [["green", "triangle"]],
            "scenes": {"train": ["s0"], "val": [], "test": ["s1"], "test_comp": ["s1"]},
        },
    )
    return out


def test_world_round_trips_every_record_kind(tmp_path: Path) -> None:
    out = _world(tmp_path / "world")
    data = read_dataset(f"world:{out}")
    expected = [r for task in _records(out).values() for r in task]
    assert data.records == expected
    assert data.kinds() == {
        "captions": 3, "vqa": 1, "statement": 1, "foil": 1, "winoground": 1, "sequence": 1,
        "attribute_norms": 1,
    }  # fmt: skip
    assert data.missing_images == [] and data.skipped == []
    assert data.meta["manifest"]["seed"] == 7
    assert data.meta["splits"]["scenes"] == {"train": 1, "val": 0, "test": 1, "test_comp": 1}
    assert data.meta["splits"]["held_out_compounds"] == [["green", "triangle"]]


def test_world_paths_are_relative_in_the_files(tmp_path: Path) -> None:
    out = _world(tmp_path / "world")
    line = (out / "tasks" / "captions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert '"image": "images/s0.png"' in line


def test_world_filters(tmp_path: Path) -> None:
    spec = f"world:{_world(tmp_path / 'world')}"
    assert [r.id for r in read_dataset(spec, kinds=(CaptionExample,), languages=["de"])] == [
        "s0/de"
    ]
    test = read_dataset(spec, split="test")
    assert sorted(r.id for r in test) == ["s1/en", "w0"]  # attribute tables have no split


def test_world_missing_scene_image_is_reported(tmp_path: Path) -> None:
    out = _world(tmp_path / "world")
    (out / "images" / "s1.png").unlink()
    data = read_dataset(f"world:{out}")
    assert sorted({m.record_id for m in data.missing_images}) == ["q1", "s1/en", "t0", "w0"]


def test_world_checksums(tmp_path: Path) -> None:
    out = _world(tmp_path / "world")
    assert len(read_dataset(f"world:{out}", verify=True)) == 9
    with (out / "tasks" / "foils.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    with pytest.raises(DataFormatError, match="checksum") as info:
        read_dataset(f"world:{out}", verify=True)
    assert info.value.path.endswith("foils.jsonl")


def test_world_wrong_format_name(tmp_path: Path) -> None:
    out = _world(tmp_path / "world", format="something-else")
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"world:{out}")
    assert info.value.field == "format" and info.value.path.endswith("manifest.json")


def test_world_bad_lines_name_file_line_and_field(tmp_path: Path) -> None:
    out = _world(tmp_path / "world")
    good = to_dict(_records(out)["foils"][0], base=out)
    broken = {k: v for k, v in good.items() if k != "foil"}
    write_jsonl(out / "tasks" / "foils.jsonl", [good, broken, "{oops"])
    with pytest.raises(DataFormatError) as info:
        read_dataset(f"world:{out}")
    assert (Path(info.value.path).name, info.value.line, info.value.field) == (
        "foils.jsonl",
        2,
        "foil",
    )
    data = read_dataset(f"world:{out}", on_bad_item="skip")
    assert [(s.line, s.reason.split(":")[0]) for s in data.skipped] == [
        (2, "field 'foil'"),
        (3, "not valid JSON"),
    ]
    assert len(data.of_kind(FoilExample)) == 1
