"""``vislang probe foils|winoground|report`` on a generated world with tiny random models saved
to folders, and on the real VALSE files (text-only: their images are not shipped)."""

from __future__ import annotations

import json
import subprocess
import sys

import probe_models
import pytest
from typer.testing import CliRunner

from vislang.cli import app
from vislang.errors import VislangError
from vislang.probe.foils import CHANCE_ACC_R

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    command = ["world", "generate", "--out", str(folder), "--scenes", "40", "--languages", "en"]
    result = runner.invoke(app, [*command, "--seed", "3", "--overwrite"])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: probe_models.saved(name, root) for name in ("dual_encoder", "causal_lm")}


def _json(*arguments: str) -> dict:
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_foils_report_every_phenomenon_of_the_world(world, models) -> None:
    items = [json.loads(line) for line in (world / "tasks" / "foils.jsonl").open()]
    model, data = str(models["dual_encoder"]), f"world:{world}"
    result = _json("probe", "foils", "--model", model, "--data", data)
    assert result["score"] == "similarity" and result["family"] == "clip"
    assert result["chance_acc_r"] == CHANCE_ACC_R
    assert set(result["phenomena"]) == {item["phenomenon"] for item in items}
    assert result["overall"]["items"] == len(items)
    assert sum(p["items"] for p in result["phenomena"].values()) == len(items)
    assert 0.0 <= result["overall"]["acc_r"] <= 1.0 and result["overall"]["p_c"] is None


def test_foils_with_the_text_only_baseline_and_a_split(world, models) -> None:
    items = [json.loads(line) for line in (world / "tasks" / "foils.jsonl").open()]
    wanted = sum(1 for item in items if item["split"] == "train")
    model, data = str(models["causal_lm"]), f"world:{world}"
    result = _json("probe", "foils", "--model", model, "--data", data, "--split", "train", "--sum")
    assert result["score"] == "text_loglik" and result["length_normalised"] is False
    assert result["overall"]["items"] == wanted


def test_winoground_scores_overall_and_by_tag(world, models) -> None:
    groups = [json.loads(line) for line in (world / "tasks" / "winoground.jsonl").open()]
    model, data = str(models["dual_encoder"]), f"world:{world}"
    result = _json("probe", "winoground", "--model", model, "--data", data)
    assert result["overall"]["examples"] == len(groups)
    assert set(result["tags"]) == {group["tag"] for group in groups}
    overall = result["overall"]
    assert overall["group"] <= min(overall["text"], overall["image"])


def test_a_score_the_model_cannot_give_is_refused_by_name(world, models) -> None:
    arguments = ["probe", "foils", "--model", str(models["causal_lm"]), "--data", f"world:{world}"]
    result = runner.invoke(app, [*arguments, "--score", "similarity"])
    assert isinstance(result.exception, VislangError)
    assert "causal_lm" in str(result.exception) and "offers: text_loglik" in str(result.exception)
    process = subprocess.run(
        [sys.executable, "-m", "vislang", *arguments, "--score", "match"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert "matching head" in process.stderr and "Traceback" not in process.stderr


def test_report_writes_markdown_plots_and_results(world, models, tmp_path) -> None:
    out = tmp_path / "report"
    encoder, lm = str(models["dual_encoder"]), str(models["causal_lm"])
    result = _json(
        "probe",
        "report",
        "--model",
        encoder,
        "--model",
        lm,
        "--data",
        f"world:{world}",
        "--out",
        str(out),
    )
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "| phenomenon | items | dual_encoder | causal_lm |" in text
    for picture in ("foils_by_phenomenon.png", "foils_by_category.png", "winoground.png"):
        assert (out / picture).read_bytes().startswith(b"\x89PNG")
        assert f"]({picture})" in text
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [m["label"] for m in saved["models"]] == ["dual_encoder", "causal_lm"]
    assert [m["label"] for m in result["models"]] == ["dual_encoder", "causal_lm"]


def test_real_valse_text_only_and_its_images_reported_missing(shared_data, models) -> None:
    piece = shared_data / "valse" / "counting-small-quant.json"
    items = json.loads(piece.read_text(encoding="utf-8"))
    valid = sum(1 for item in items.values() if item["mturk"]["caption"] >= 2)
    result = _json(
        "probe", "foils", "--model", str(models["causal_lm"]), "--data", f"valse:{piece}"
    )
    assert result["phenomena"]["counting-small-quant"]["items"] == valid
    assert result["left_out"] == {"invalid": len(items) - valid}
    assert result["missing_images"] == len(items)
    refused = runner.invoke(
        app,
        ["probe", "foils", "--model", str(models["dual_encoder"]), "--data", f"valse:{piece}"],
    )
    assert "missing_image" in str(refused.exception)
