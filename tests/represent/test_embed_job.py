"""The batch embedding job: folders and datasets of images or captions into feature stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.data.preprocess import load_preprocessed
from vislang.data.readers import read_dataset
from vislang.errors import ConfigError
from vislang.models.registry import load_model
from vislang.represent.embed_job import (
    dataset_image_inputs,
    dataset_text_inputs,
    image_folder_inputs,
    native_bfloat16,
    resolve_precision,
    run_embed_job,
)
from vislang.represent.encoder import ImageTextEncoder
from vislang.represent.feature_store import FeatureRow, FeatureStore


def make_images(folder: Path) -> dict[str, str]:
    """Seven good images (JPEG, PNG, greyscale, one in a subfolder) and three bad files.

    Returns the bad files' relative paths and the start of the reason each should report.
    """
    rng = np.random.default_rng(0)
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        pixels = rng.integers(0, 256, size=(40 + 7 * i, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.jpg", quality=90)
    Image.fromarray(rng.integers(0, 256, size=(30, 30), dtype=np.uint8)).save(folder / "grey.png")
    Image.fromarray(rng.integers(0, 256, size=(64, 48, 3), dtype=np.uint8)).save(
        folder / "sub" / "nested.png"
    )
    (folder / "img2b_empty.jpg").write_bytes(b"")
    (folder / "not_really.png").write_bytes(b"this is text, not a PNG")
    truncated = (folder / "img4.jpg").read_bytes()[:200]
    (folder / "sub" / "truncated.jpg").write_bytes(truncated)
    (folder / "notes.txt").write_text("not an image and not an image suffix")
    return {
        "img2b_empty.jpg": "empty file",
        "not_really.png": "not a recognised image format",
        "sub/truncated.jpg": "truncated image data",
    }


def test_image_folder_to_feature_store(tmp_path: Path, encoder: ImageTextEncoder) -> None:
    bad = make_images(tmp_path / "images")
    rows = image_folder_inputs(tmp_path / "images")
    assert len(rows) == 10 and all(r.id != "notes.txt" for r in rows)

    report = run_embed_job(
        encoder,
        rows,
        tmp_path / "features",
        modality="image",
        model="pooled",
        batch_size=3,
        threads=2,
        shard_rows=4,
        show_progress=False,
    )
    store = FeatureStore.open(tmp_path / "features", verify=True)

    assert report.inputs == 10 and report.embedded == store.count == 7
    failed = {
        Path(f["source"]).relative_to(tmp_path / "images").as_posix(): f["reason"]
        for f in store.failures
    }
    assert set(failed) == set(bad)
    for name, reason in bad.items():
        assert failed[name].startswith(reason), (name, failed[name])

    good = [r for r in rows if Path(r.image).relative_to(tmp_path / "images").as_posix() not in bad]
    assert store.rows() == good  # order kept, every row aligned with its embedding
    pixels = torch.from_numpy(
        np.stack([load_preprocessed(r.image, encoder.preprocess) for r in good])
    )
    np.testing.assert_allclose(
        store.embeddings(), encoder.encode_images(pixels).detach().numpy(), atol=1e-6
    )
    assert store.fingerprint == encoder.fingerprint() and store.model == "pooled"

    saved = json.loads((store.path / "report.json").read_text())
    assert saved["embedded"] == 7 and saved["failed"] == 3 and saved["inputs"] == 10
    assert {f["source"] for f in saved["failures"]} == {f["source"] for f in store.failures}


def test_captions_to_feature_store_with_empty_caption_reported(
    tmp_path: Path, encoder: ImageTextEncoder
) -> None:
    rows = [
        FeatureRow(id="a#0", image_id="a", text="a red circle", language="en"),
        FeatureRow(id="a#1", image_id="a", text="   ", language="en"),
        FeatureRow(id="b#0", image_id="b", text="ein blaues Quadrat", language="de"),
    ]
    report = run_embed_job(
        encoder, rows, tmp_path / "texts", modality="text", batch_size=2, show_progress=False
    )
    store = FeatureStore.open(tmp_path / "texts")
    assert store.modality == "text" and [r.id for r in store.rows()] == ["a#0", "b#0"]
    assert report.failures == [{"source": "a#1", "reason": "empty text"}]
    expected = encoder.encode_texts(["a red circle", "ein blaues Quadrat"]).detach().numpy()
    np.testing.assert_allclose(store.embeddings(), expected, atol=1e-6)


def test_encoder_error_leaves_no_store(tmp_path: Path, encoder: ImageTextEncoder) -> None:
    make_images(tmp_path / "images")

    def broken(pixels: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("forward failed")

    encoder.encode_images = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="forward failed"):
        run_embed_job(
            encoder,
            image_folder_inputs(tmp_path / "images"),
            tmp_path / "features",
            modality="image",
            show_progress=False,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images"]


def test_forward_runs_without_autograd(tmp_path: Path, encoder: ImageTextEncoder) -> None:
    seen: list[bool] = []
    original = encoder.encode_texts

    def recording(texts: list[str]) -> torch.Tensor:
        seen.append(torch.is_inference_mode_enabled())
        return original(texts)

    encoder.encode_texts = recording  # type: ignore[method-assign]
    rows = [FeatureRow(id=str(i), text=f"text {i}") for i in range(5)]
    run_embed_job(encoder, rows, tmp_path / "t", modality="text", batch_size=2, show_progress=False)
    assert seen == [True, True, True]


def test_bad_job_options_are_refused(tmp_path: Path, encoder: ImageTextEncoder) -> None:
    with pytest.raises(ConfigError, match="not a folder of images"):
        image_folder_inputs(tmp_path / "absent")
    with pytest.raises(ConfigError, match="batch size and threads"):
        run_embed_job(encoder, [], tmp_path / "f", modality="image", batch_size=0)


def test_precision_is_resolved_and_checked() -> None:
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    assert resolve_precision("auto") == ("bfloat16" if native_bfloat16() else "float32")
    with pytest.raises(ConfigError, match="precision must be one of auto, float32, bfloat16"):
        resolve_precision("float16")


def test_bfloat16_job_matches_float32_job(tmp_path: Path) -> None:
    make_images(tmp_path / "images")
    clip = load_model("clip-tiny").eval()
    rows = image_folder_inputs(tmp_path / "images")
    stores = {}
    for precision in ("float32", "bfloat16"):
        report = run_embed_job(
            clip,
            rows,
            tmp_path / precision,
            modality="image",
            batch_size=4,
            show_progress=False,
            precision=precision,
        )
        assert report.precision == precision and report.embedded == 7
        assert report.to_dict()["precision"] == precision
        stores[precision] = FeatureStore.open(tmp_path / precision).embeddings()
    assert stores["bfloat16"].dtype == np.float32
    assert not np.array_equal(stores["bfloat16"], stores["float32"])  # bfloat16 did run
    np.testing.assert_allclose(np.linalg.norm(stores["bfloat16"], axis=1), 1.0, atol=1e-6)
    cosines = (stores["bfloat16"] * stores["float32"]).sum(axis=1)
    assert cosines.min() >= 0.999


@pytest.mark.shared_data
def test_coco_mini_images_and_captions(
    shared_data: Path, tmp_path: Path, encoder: ImageTextEncoder
) -> None:
    dataset = read_dataset(f"coco:{shared_data / 'coco-mini'}")

    images = dataset_image_inputs(dataset)
    texts = dataset_text_inputs(dataset)
    assert len(images) == 57 and len(texts) == 285
    assert {r.image_id for r in texts} == {r.image_id for r in images}

    image_report = run_embed_job(
        encoder, images, tmp_path / "img", modality="image", batch_size=16, show_progress=False
    )
    text_report = run_embed_job(
        encoder, texts, tmp_path / "txt", modality="text", batch_size=64, show_progress=False
    )
    assert (image_report.embedded, image_report.failures) == (57, [])
    assert (text_report.embedded, text_report.failures) == (285, [])

    captions = FeatureStore.open(tmp_path / "txt")
    first = dataset.records[0]
    rows = captions.rows()[:5]
    assert [r.text for r in rows] == list(first.captions)
    assert {(r.image_id, r.language, r.source, r.split) for r in rows} == {
        (first.image_id, "en", "coco", first.split)
    }
    norms = np.linalg.norm(FeatureStore.open(tmp_path / "img").embeddings(), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


@pytest.mark.shared_data
def test_dataset_without_captions_cannot_embed_texts(shared_data: Path) -> None:
    statements = read_dataset(f"nlvr:{shared_data / 'nlvr1'}", split="dev")
    with pytest.raises(ConfigError, match=r"nlvr1.*no caption records to embed.*statement"):
        dataset_text_inputs(statements)
    images = dataset_image_inputs(statements)  # six renderings per statement, each once
    assert len(images) == len({r.image for r in images}) == 6 * len(statements)
