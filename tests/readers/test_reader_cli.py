"""`vislang data formats | inspect | card` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vislang.cli import app

runner = CliRunner()

# folder of ../shared/data, format, and what `inspect` must count there
SHARED = [
    ("coco-mini", "coco", {"records": 57, "images": 57, "missing_images": 0, "captions": 285}),
    ("nlvr1", "nlvr", {"records": 1979, "images": 11874, "missing_images": 0}),
    ("valse", "valse", {"records": 8782, "images": 6813, "missing_images": 8782}),
    ("marvl", "marvl", {"records": 5670, "images": 4913, "missing_images": 11340}),
    ("xflickrco", "xflickrco", {"records": 15998, "images": 2000, "skipped": 2}),
    ("multi30k", "multi30k", {"records": 4000, "images": 1000, "missing_images": 4000}),
    ("mcrae", "mcrae", {"records": 1, "images": 0, "missing_images": 0}),
    ("things", "things", {"records": 1, "images": 0, "missing_images": 0}),
]


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("folder", "format_name", "expected"), SHARED)
def test_inspect_every_shared_dataset(
    shared_data: Path, folder: str, format_name: str, expected: dict
) -> None:
    result = _json(
        ["data", "inspect", str(shared_data / folder), "--format", format_name, "--json"]
    )
    assert result["format"] == format_name
    assert {key: result[key] for key in expected} == expected
    assert result["example"]["kind"] in result["kinds"]


def test_inspect_counts_labels_and_languages(shared_data: Path) -> None:
    nlvr = _json(["data", "inspect", str(shared_data / "nlvr1"), "-f", "nlvr", "--json"])
    assert nlvr["labels"] == {"false": 876, "true": 1103}
    assert nlvr["splits"] == {"dev": 989, "test": 990}
    valse = _json(["data", "inspect", str(shared_data / "valse"), "-f", "valse", "--json"])
    assert valse["labels"] == {"invalid": 1080, "valid": 7702}
    assert len(valse["missing_image_examples"]) == 10
    marvl = _json(
        ["data", "inspect", str(shared_data / "marvl"), "-f", "marvl", "-l", "ta", "--json"]
    )
    assert marvl["languages"] == {"ta": 1242} and marvl["labels"] == {"false": 626, "true": 616}


def test_inspect_options_and_policies(shared_data: Path) -> None:
    coco = shared_data / "coco-mini"
    moved = _json(
        ["data", "inspect", str(coco), "-f", "coco", "-o", "images=/nonexistent", "--json"]
    )
    assert moved["missing_images"] == 57 and moved["images_found"] == 0
    dropped = _json(
        ["data", "inspect", str(coco), "-f", "coco", "-o", "images=/nonexistent",
         "--on-missing-image", "skip", "--json"]
    )  # fmt: skip
    assert dropped["records"] == 0 and dropped["missing_images"] == 57
    val = _json(["data", "inspect", str(coco), "-f", "coco", "--split", "val", "--json"])
    assert val["records"] == 28 and val["splits"] == {"val": 28}


def test_inspect_human_output_shows_counts_and_example(shared_data: Path) -> None:
    result = runner.invoke(app, ["data", "inspect", str(shared_data / "coco-mini"), "-f", "coco"])
    assert result.exit_code == 0, result.output
    assert "285" in result.stdout and "example" in result.stdout
    assert "000000159269.jpg" in result.stdout


def test_inspect_usage_errors_exit_2(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["data", "inspect", str(tmp_path), "-f", "cocoa"])
    assert unknown.exit_code == 2 and "unknown dataset format" in unknown.output
    policy = runner.invoke(
        app, ["data", "inspect", str(tmp_path), "-f", "coco", "--on-missing-image", "ignore"]
    )
    assert policy.exit_code == 2


def test_bad_data_ends_with_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "test-en.jsonl").write_text('{"sentences": ["A dog."], "id": "1"}\n')
    result = subprocess.run(
        [sys.executable, "-m", "vislang", "data", "inspect", str(tmp_path), "-f", "xflickrco"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # the terminal may wrap a long path
    assert "test-en.jsonl:1: field 'img_path': missing" in message
    assert "Traceback" not in result.stderr


def test_formats_lists_every_reader() -> None:
    formats = _json(["data", "formats", "--json"])["formats"]
    names = [f["format"] for f in formats]
    assert len(names) == 15 and "world" in names and "xvnli" in names
    coco = next(f for f in formats if f["format"] == "coco")
    assert coco["options"]["instances"]["default"] is True
    assert coco["records"] == "captions"


def test_card_prints_the_five_key_factors() -> None:
    card = _json(["data", "card", "marvl", "--json"])
    assert card["languages"] == ["id", "sw", "ta", "tr", "zh"]
    assert card["task_types"] == ["classification"]
    for factor in ("scope", "annotator_relationship", "images", "texts", "binding"):
        assert card[factor]
    human = runner.invoke(app, ["data", "card", "valse"])
    assert human.exit_code == 0 and "binding" in human.stdout and "MIT" in human.stdout
    assert runner.invoke(app, ["data", "card", "nope"]).exit_code == 2
