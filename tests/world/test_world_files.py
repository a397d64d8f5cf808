"""The files of a written world: layout, manifest, card, schema round trip, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from world_fixtures import read_jsonl

from vislang import __version__
from vislang.cli import app
from vislang.data.schema import from_dict, to_dict
from vislang.data.world import TASK_FILES, World, WorldConfig
from vislang.data.world.writer import record_line

runner = CliRunner()


def test_layout_and_manifest(world_dir: Path) -> None:
    manifest = json.loads((world_dir / "manifest.json").read_text("utf-8"))
    assert list(manifest) == ["format", "version", "seed", "config", "counts", "checksums"]
    assert manifest["format"] == "vislang-world" and manifest["version"] == __version__
    assert manifest["seed"] == 11
    assert WorldConfig.from_dict(manifest["config"]).scenes == 120
    files = {p.relative_to(world_dir).as_posix() for p in world_dir.rglob("*") if p.is_file()}
    assert files == set(manifest["checksums"]) | {"manifest.json"}
    for task in TASK_FILES:
        assert f"tasks/{task}.jsonl" in files
    assert {"card.md", "splits.json"} <= files
    pngs = {f for f in files if f.endswith(".png")}
    assert {p[:-4] + ".json" for p in pngs} <= files
    assert manifest["counts"]["images"] == len(pngs)
    captions = manifest["counts"]["tasks"]["captions"]
    assert sum(captions["train"].values()) == 7 * manifest["counts"]["scenes"]["train"]


def test_every_line_is_a_schema_record_with_a_split(world_dir: Path) -> None:
    for task in TASK_FILES:
        path = world_dir / "tasks" / f"{task}.jsonl"
        for line_number, data in enumerate(read_jsonl(path), start=1):
            record = from_dict(data, base=world_dir, source_file=path, line=line_number)
            assert to_dict(record, base=world_dir) == data
            if task == "attributes":
                assert data["meta"]["split"] == "all"
                assert all(
                    (world_dir / p).is_file() for ps in data["concept_images"].values() for p in ps
                )
            else:
                assert data["split"] in ("train", "val", "test", "test_comp")
                images = data.get("images") or [data.get("image")]
                images += [s["image"] for s in data.get("steps", [])]
                assert all((world_dir / p).is_file() for p in images if p)


def test_fast_lines_equal_schema_to_dict(tmp_path: Path) -> None:
    world = World(WorldConfig(scenes=30, nlvr=True, winoground_rate=1.0, sequence_rate=1.0))
    records = [r for item in world.items() for rs in item.records.values() for r in rs]
    records += world.attribute_norms()
    assert {r.kind for r in records} == {
        "captions",
        "vqa",
        "statement",
        "foil",
        "winoground",
        "sequence",
        "attribute_norms",
    }
    for record in records:
        expected = json.dumps(to_dict(record, base=tmp_path), ensure_ascii=False)
        assert record_line(record) == expected


def test_scene_files_hold_boxes(world_dir: Path) -> None:
    scene = json.loads((world_dir / "images" / "s000000.json").read_text("utf-8"))
    assert scene["image_size"] == [64, 64]
    for obj in scene["objects"]:
        x0, y0, x1, y1 = obj["bbox"]
        assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
        assert set(obj) >= {"shape", "colour", "size", "x", "y", "radius", "rgb"}


def test_attribute_norms_per_language(world_dir: Path) -> None:
    records = read_jsonl(world_dir / "tasks" / "attributes.jsonl")
    assert [r["language"] for r in records] == ["en", "de", "tr", "zh", "sw", "id", "ta"]
    english = records[0]
    assert len(english["concepts"]) == 48
    assert "red circle" in english["positives"]["is_round"]
    assert "red circle" in english["positives"]["is_warm_colour"]
    assert "blue circle" not in english["positives"]["is_warm_colour"]
    assert english["meta"]["concept_ids"]["red circle"] == "red circle"
    german = records[1]
    assert german["meta"]["concept_ids"]["roter Kreis"] == "red circle"


def test_card_names_the_five_factors(world_dir: Path) -> None:
    card = (world_dir / "card.md").read_text("utf-8")
    for heading in ("Scope", "Annotator relationship", "Images", "Texts", "Binding"):
        assert f"## {heading}" in card
    assert "Held-out compounds" in card and "Tamil (ta)" in card


def test_cli_generate_json_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "w"
    args = [
        "world",
        "generate",
        "--out",
        str(out),
        "--scenes",
        "12",
        "--languages",
        "en,sw",
        "--size",
        "32",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["languages"] == ["en", "sw"]
    assert sum(summary["scenes"].values()) == 12
    assert summary["records"]["captions"] == 24
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "not empty" in str(result.exception)
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    verify = runner.invoke(app, ["world", "verify", str(out), "--json"])
    assert verify.exit_code == 0 and json.loads(verify.stdout)["ok"] is True


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--languages", "en,xx"], "unknown language"),
        (["--split", "random"], "split must be"),
        (["--size", "8"], "image_size"),
    ],
)
def test_cli_rejects_bad_options(tmp_path: Path, option: list[str], message: str) -> None:
    result = runner.invoke(app, ["world", "generate", "--out", str(tmp_path / "w"), *option])
    assert result.exit_code == 2
    assert message in result.output
