"""`vislang eval retrieval` and `vislang eval zeroshot` on a tiny world and on coco-mini, with the
tiny CLIP preset: counts checked against the files, numbers against the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vislang.cli import app
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.data.world import WorldConfig, write_world
from vislang.errors import VislangError
from vislang.evaluate.retrieval import evaluate_retrieval
from vislang.models.registry import load_model

runner = CliRunner()


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    config = WorldConfig(
        scenes=120,
        seed=5,
        languages=("en", "de", "zh"),
        questions_per_image=0,
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )
    write_world(config, out)
    return out


def test_retrieval_on_a_world_split_per_language(world: Path) -> None:
    result = invoke_json(
        "retrieval",
        "--model",
        "clip-tiny",
        "--data",
        f"world:{world}",
        "--split",
        "test",
        "--languages",
        "en,zh",
    )
    test_scenes = json.loads((world / "splits.json").read_text())["scenes"]["test"]
    assert result["images"] == len(test_scenes) and result["texts"] == 2 * 5 * len(test_scenes)
    assert set(result["languages"]) == {"en", "zh"} == set(result["identical_caption_bounds"])
    for scores in result["languages"].values():
        assert scores["images"] == len(test_scenes) and scores["texts"] == 5 * len(test_scenes)
    records = read_dataset(f"world:{world}", kinds=(CaptionExample,), split="test")
    chosen = [r for r in records.of_kind(CaptionExample) if r.language in ("en", "zh")]
    direct = evaluate_retrieval(load_model("clip-tiny"), chosen)
    assert result["languages"] == direct.languages and result["mean"] == direct.mean()

    human = runner.invoke(
        app,
        [
            "eval",
            "retrieval",
            "--model",
            "clip-tiny",
            "--data",
            f"world:{world}",
            "--split",
            "test",
            "--max-images",
            "5",
        ],
    )
    assert human.exit_code == 0 and "mean" in human.stdout and "identical captions" in human.stdout


def test_zeroshot_on_the_world_counts_single_object_scenes(world: Path) -> None:
    result = invoke_json(
        "zeroshot",
        "--model",
        "clip-tiny",
        "--data",
        f"world:{world}",
        "--split",
        "val",
        "--task",
        "shape",
        "--task",
        "compound",
    )
    val = json.loads((world / "splits.json").read_text())["scenes"]["val"]
    singles = [
        s
        for s in val
        if len(json.loads((world / "images" / f"{s}.json").read_text())["objects"]) == 1
    ]
    assert [t["task"] for t in result["tasks"]] == ["shape", "compound"]
    for task in result["tasks"]:
        assert task["images"] == len(singles) and task["left_out"] == len(val) - len(singles)
        assert set(task["languages"]) == {"en", "de", "zh"}
        assert all(0.0 <= s["accuracy"] <= 1.0 for s in task["languages"].values())
    assert result["tasks"][1]["classes"] == 48
    assert result["tasks"][1]["templates"]["zh"][2] == "图中有{}。"


@pytest.mark.shared_data
def test_retrieval_and_zeroshot_on_coco_mini(shared_data: Path) -> None:
    root = shared_data / "coco-mini"
    data = f"coco:{root}"
    captions = json.loads((root / "annotations" / "captions_val2017.json").read_text())
    images = {a["image_id"] for a in captions["annotations"]}
    result = invoke_json("retrieval", "--model", "clip-tiny", "--data", data, "--split", "val")
    assert result["images"] == len(images) and result["texts"] == len(captions["annotations"])
    assert list(result["languages"]) == ["en"] and result["failed_images"] == []
    english = result["languages"]["en"]
    assert all(
        0.0 <= english[f"{d}@{k}"] <= 1.0
        for d in ("text_to_image", "image_to_text")
        for k in (1, 5, 10)
    )
    zeroshot = invoke_json("zeroshot", "--model", "clip-tiny", "--data", data, "--split", "val")
    [objects] = zeroshot["tasks"]
    assert objects["task"] == "object" and objects["images"] + objects["left_out"] == len(images)
    assert objects["templates"]["en"][0] == "a photo of a {}."


def test_bad_input_ends_with_a_one_line_error(world: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vislang", "eval", "zeroshot", "--model", "clip-tiny", "--data",
         f"world:{world}", "--task", "x"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    message = " ".join(result.stderr.split())
    assert result.returncode == 1 and "Traceback" not in message
    assert "format 'world' has no zero-shot task 'x' (tasks: shape, colour, compound)" in message

    def refused(*args: str) -> str:
        outcome = runner.invoke(app, ["eval", *args])
        assert isinstance(outcome.exception, VislangError), outcome.output
        return str(outcome.exception)

    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"photo": {"en": ["{}"]}}))
    message = refused(
        "zeroshot", "--model", "clip-tiny", "--data", f"world:{world}", "--templates",
        str(templates),
    )  # fmt: skip
    assert "has no template set 'world'" in message
    message = refused("retrieval", "--model", "causal_lm-tiny", "--data", f"world:{world}")
    assert "causal_lm-tiny: not an image-text encoder" in message
    message = refused(
        "retrieval", "--model", "clip-tiny", "--data", f"world:{world}", "--split", "x"
    )
    assert "no caption records in split 'x'" in message
