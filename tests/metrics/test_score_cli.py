"""``vislang score captions`` on real files: output, per-image file and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vislang.cli import app
from vislang.errors import DataFormatError
from vislang.metrics import score_captions

runner = CliRunner()


@pytest.fixture
def coco_files(shared_data, tmp_path) -> tuple[Path, Path, dict, dict]:
    """The coco-mini val captions as references, a prediction from another image per image."""
    refs = shared_data / "coco-mini" / "annotations" / "captions_val2017.json"
    annotations = json.loads(refs.read_text(encoding="utf-8"))["annotations"]
    references: dict[str, list[str]] = {}
    for annotation in annotations:
        references.setdefault(str(annotation["image_id"]), []).append(annotation["caption"])
    images = list(references)
    predictions = {
        image: references[images[(k + 1) % len(images)]][0] if k % 3 == 0 else references[image][0]
        for k, image in enumerate(images)
    }
    preds = tmp_path / "preds.json"
    preds.write_text(
        json.dumps([{"image_id": int(i), "caption": c} for i, c in predictions.items()]),
        encoding="utf-8",
    )
    return refs, preds, references, predictions


def test_scores_coco_files_as_json(coco_files, tmp_path) -> None:
    refs, preds, references, predictions = coco_files
    per_image = tmp_path / "out" / "per_image.json"
    args = ["score", "captions", "--refs", str(refs), "--preds", str(preds)]
    result = runner.invoke(app, [*args, "--per-image", str(per_image), "--json"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    expected = score_captions(references, predictions)
    assert output["tokenizer"] == "coco-ptb" and output["language"] == "en"
    assert output["images"] == len(references) == 28
    for name, value in expected.corpus.items():
        assert output[name] == pytest.approx(value, abs=1e-12)
    assert 0 < output["CIDEr-D"] < 10
    written = json.loads(per_image.read_text(encoding="utf-8"))
    assert written["corpus"] == pytest.approx(expected.corpus)
    assert [row["image_id"] for row in written["images"]] == list(predictions)
    assert written["images"][1]["BLEU-4"] == pytest.approx(
        expected.per_image[list(predictions)[1]]["BLEU-4"]
    )


def test_human_table_and_mapping_references(coco_files, tmp_path) -> None:
    _, preds, references, _ = coco_files
    mapping = tmp_path / "refs.json"
    mapping.write_text(json.dumps(references), encoding="utf-8")
    result = runner.invoke(
        app, ["score", "captions", "--refs", str(mapping), "--preds", str(preds)]
    )
    assert result.exit_code == 0, result.output
    assert "CIDEr-D" in result.stdout and "coco-ptb" in result.stdout


def test_jsonl_predictions_and_another_language(shared_data, tmp_path) -> None:
    lines = (shared_data / "xflickrco" / "test-zh.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["sentences"][0] for line in lines[:12]]
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({str(k): texts[k + 1 : k + 3] for k in range(10)}), encoding="utf-8")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "\n".join(json.dumps({"image_id": str(k), "caption": texts[k]}) for k in range(10)),
        encoding="utf-8",
    )
    args = ["score", "captions", "--refs", str(refs), "--preds", str(preds), "--lang", "zh"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tokenizer"] == "char+13a"


def _error(refs: Path, preds: Path) -> DataFormatError:
    result = runner.invoke(app, ["score", "captions", "--refs", str(refs), "--preds", str(preds)])
    assert result.exit_code != 0
    assert isinstance(result.exception, DataFormatError), result.output
    return result.exception


def test_bad_inputs_name_file_entry_and_field(coco_files, tmp_path) -> None:
    refs, preds, _, predictions = coco_files
    bad = tmp_path / "bad.json"

    bad.write_text(json.dumps([{"image_id": 1, "caption": "  "}]), encoding="utf-8")
    error = _error(refs, bad)
    assert error.path == str(bad) and error.field == "caption" and "entry 0" in str(error)

    bad.write_text(json.dumps([{"caption": "a dog"}]), encoding="utf-8")
    assert _error(refs, bad).field == "image_id"

    bad.write_text('[{"image_id": 1, "caption": "a dog"', encoding="utf-8")
    error = _error(refs, bad)
    assert "invalid JSON" in str(error) and error.line == 1

    rows = [{"image_id": int(i), "caption": c} for i, c in predictions.items()]
    bad.write_text(json.dumps([*rows, {"image_id": 42, "caption": "a cow"}]), encoding="utf-8")
    assert "image 42 has no references" in str(_error(refs, bad))

    bad.write_text(json.dumps(rows[1:]), encoding="utf-8")
    error = _error(refs, bad)
    assert error.path == str(refs) and "1 image(s) with references have no prediction" in str(error)

    bad.write_text(json.dumps([*rows, rows[0]]), encoding="utf-8")
    assert "a second prediction" in str(_error(refs, bad))

    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"image_id": 1, "caption": "a"}\nnot json\n', encoding="utf-8")
    assert _error(refs, lines).line == 2

    mapping = tmp_path / "refs.json"
    mapping.write_text(json.dumps({"1": "a dog"}), encoding="utf-8")
    assert "expected a list of captions" in str(_error(mapping, preds))
    assert "file not found" in str(_error(tmp_path / "missing.json", preds))


def test_console_script_prints_one_line_error(tmp_path) -> None:
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"1": ["a dog"]}), encoding="utf-8")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"image_id": 1, "caption": ""}]), encoding="utf-8")
    command = [sys.executable, "-m", "vislang", "score", "captions"]
    done = subprocess.run(
        [*command, "--refs", str(refs), "--preds", str(preds)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "preds.json: field 'caption': entry 0: empty caption" in done.stderr
