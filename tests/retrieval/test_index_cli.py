"""`vislang embed` and `vislang index build/add/search` end to end, with the tiny CLIP preset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vislang.cli import app
from vislang.models.registry import load_model
from vislang.represent.feature_store import FeatureStore
from vislang.retrieval.datastore import Datastore, EncoderMismatchError

runner = CliRunner()
MODEL = "clip-tiny"


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def coco_captions(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Feature stores of coco-mini's train and val captions, embedded by the CLI."""
    root = tmp_path_factory.mktemp("coco")
    stores = {}
    for split in ("train", "val"):
        stores[split] = root / f"captions-{split}"
        report = invoke_json(
            "embed",
            "--model",
            MODEL,
            "--data",
            f"coco:{shared_data / 'coco-mini'}",
            "--texts",
            "--split",
            split,
            "--out",
            str(stores[split]),
        )
        assert report["embedded"] == report["inputs"] > 0 and report["failed"] == 0
    return stores


def test_embed_image_folder_reports_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")

    report = invoke_json(
        "embed", "--model", MODEL, "--images", str(folder), "--out", str(tmp_path / "f"),
        "--batch-size", "2", "--threads", "2",
    )  # fmt: skip
    assert (report["inputs"], report["embedded"], report["failed"]) == (6, 5, 1)
    assert report["failures"][0]["source"].endswith("broken.jpg")
    store = FeatureStore.open(tmp_path / "f", verify=True)
    assert store.model == MODEL and store.modality == "image" and store.count == 5
    assert json.loads((tmp_path / "f" / "report.json").read_text())["failed"] == 1


def test_embed_usage_errors_exit_2(tmp_path: Path) -> None:
    both = runner.invoke(
        app, ["embed", "--model", MODEL, "--images", ".", "--data", "coco:x", "--out", "o"]
    )
    texts_of_folder = runner.invoke(
        app, ["embed", "--model", MODEL, "--images", ".", "--texts", "--out", "o"]
    )
    assert both.exit_code == texts_of_folder.exit_code == 2
    assert not (tmp_path / "o").exists()


@pytest.mark.shared_data
def test_build_add_search(coco_captions: dict[str, Path], tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    built = invoke_json(
        "index", "build", "--embeddings", str(coco_captions["train"]), "--out", str(store_dir)
    )
    train_count = built["count"]
    assert built["index"]["kind"] == "flat" and built["version"] == 1
    assert built["encoder"] == load_model(MODEL).fingerprint()

    added = invoke_json("index", "add", str(store_dir), "--embeddings", str(coco_captions["val"]))
    assert (
        added["version"] == 2
        and added["count"] == train_count + FeatureStore.open(coco_captions["val"]).count == 285
    )

    store = Datastore.load(store_dir)
    caption = store.metadata.column("text")[7].as_py()
    found = invoke_json("index", "search", str(store_dir), "--text", caption, "-k", "3")
    assert len(found["hits"]) == 3
    top = found["hits"][0]
    assert top["row"] == 7 and top["text"] == caption and top["score"] == pytest.approx(1.0)
    assert {"image_id", "image", "language", "source", "split"} <= set(top)


@pytest.mark.shared_data
def test_image_query_can_exclude_its_own_captions(
    shared_data: Path, coco_captions: dict[str, Path], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    invoke_json(
        "index", "build", "--embeddings", str(coco_captions["val"]), "--out", str(store_dir)
    )
    store = Datastore.load(store_dir)
    image = store.metadata.column("image")[0].as_py()
    image_id = store.metadata.column("image_id")[0].as_py()
    own_captions = store.metadata.column("image_id").to_pylist().count(image_id)

    everything = invoke_json(
        "index", "search", str(store_dir), "--image", image, "-k", str(store.count)
    )
    assert sum(h["image_id"] == image_id for h in everything["hits"]) == own_captions
    excluded = invoke_json(
        "index", "search", str(store_dir), "--image", image, "-k", "10",
        "--exclude-image-id", image_id, "--model", MODEL,
    )  # fmt: skip
    assert len(excluded["hits"]) == 10
    assert all(h["image_id"] != image_id for h in excluded["hits"])


@pytest.mark.shared_data
def test_ivf_build_reports_recall(coco_captions: dict[str, Path], tmp_path: Path) -> None:
    built = invoke_json(
        "index", "build", "--embeddings", str(coco_captions["train"]),
        "--out", str(tmp_path / "ivf"), "--kind", "ivf",
    )  # fmt: skip
    assert built["index"]["kind"] == "ivf" and built["index"]["nlist"] >= 1
    assert built["recall"]["queries"] > 0 and 0.0 <= built["recall"]["recall"] <= 1.0
    assert built["index"]["nprobe"] == built["recall"]["nprobe"]


@pytest.mark.shared_data
def test_query_with_another_encoder_is_refused(
    coco_captions: dict[str, Path], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    invoke_json(
        "index", "build", "--embeddings", str(coco_captions["val"]), "--out", str(store_dir)
    )
    refused = runner.invoke(
        app, ["index", "search", str(store_dir), "--text", "a cat", "--model", "siglip-tiny"]
    )
    assert refused.exit_code == 1 and isinstance(refused.exception, EncoderMismatchError)
    assert "clip-tiny" in str(refused.exception) and "siglip-tiny" in str(refused.exception)

    again = runner.invoke(
        app, ["index", "build", "--embeddings", str(coco_captions["val"]), "--out", str(store_dir)]
    )
    assert again.exit_code == 1 and "--overwrite" in str(again.exception)


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vislang", "index", "search", str(tmp_path), "--text", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    message = " ".join(result.stderr.split())  # the terminal may wrap long lines
    assert result.returncode == 1
    assert "not a datastore (no CURRENT file)" in message and "Traceback" not in message
