"""Feature stores: float32 shards, parquet metadata and a manifest, written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vislang.errors import ConfigError, DataFormatError
from vislang.represent.feature_store import FeatureRow, FeatureStore, FeatureWriter

FINGERPRINT = {"name": "toy", "config_hash": "c0ffee", "weights_hash": "beef", "dim": 8}


def _rows(count: int, start: int = 0) -> list[FeatureRow]:
    return [
        FeatureRow(
            id=f"item-{i}",
            image_id=f"img-{i // 2}",
            image=f"images/{i // 2}.jpg",
            text=f"caption number {i}" if i % 3 else None,
            language=("en", "de", "ja")[i % 3],
            source="toy",
            split="test",
        )
        for i in range(start, start + count)
    ]


def _vectors(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, 8)).astype(np.float32)


def _write(path: Path, vectors: np.ndarray, shard_rows: int = 4, **kwargs) -> FeatureStore:
    with FeatureWriter(
        path, modality="image", fingerprint=FINGERPRINT, dim=8, shard_rows=shard_rows, **kwargs
    ) as writer:
        for start in range(0, len(vectors), 3):  # batches that do not line up with shards
            block = vectors[start : start + 3]
            writer.add(block, _rows(len(block), start))
        writer.add_failures([("images/broken.jpg", "truncated JPEG")])
    return FeatureStore.open(path, verify=True)


def test_round_trip_over_several_shards(tmp_path: Path) -> None:
    vectors = _vectors(10)
    store = _write(tmp_path / "features", vectors)

    assert store.count == 10 and store.dim == 8 and store.modality == "image"
    assert store.fingerprint == FINGERPRINT
    assert [s.shape[0] for s in store.shards()] == [4, 4, 2]
    assert all(isinstance(s, np.memmap) for s in store.shards())
    np.testing.assert_array_equal(store.embeddings(), vectors)
    np.testing.assert_array_equal(store.take([9, 0, 5, 4]), vectors[[9, 0, 5, 4]])
    starts = [start for start, _ in store.iter_chunks(max_rows=3)]
    assert starts == [0, 3, 4, 7, 8]
    assert store.rows() == _rows(10)
    assert store.metadata.column("row").to_pylist() == list(range(10))
    assert store.failures == [{"source": "images/broken.jpg", "reason": "truncated JPEG"}]


def test_manifest_checksums_match_the_files(tmp_path: Path) -> None:
    store = _write(tmp_path / "features", _vectors(6))
    manifest = json.loads((store.path / "manifest.json").read_text())
    for shard in manifest["shards"]:
        digest = hashlib.sha256((store.path / shard["file"]).read_bytes()).hexdigest()
        assert digest == shard["sha256"]
    assert manifest["count"] == 6 and manifest["dim"] == 8 and manifest["dtype"] == "float32"


def test_error_inside_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "features"
    with (
        pytest.raises(RuntimeError, match="boom"),
        FeatureWriter(out, modality="text", fingerprint=FINGERPRINT, dim=8, shard_rows=2) as w,
    ):
        w.add(_vectors(5), _rows(5))
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_store_is_replaced_only_when_overwriting(tmp_path: Path) -> None:
    out = tmp_path / "features"
    _write(out, _vectors(4, seed=1))
    with pytest.raises(ConfigError, match="already exists"):
        FeatureWriter(out, modality="image", fingerprint=FINGERPRINT, dim=8)
    replaced = _write(out, _vectors(6, seed=2), overwrite=True)
    np.testing.assert_array_equal(replaced.embeddings(), _vectors(6, seed=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features"]


@pytest.mark.parametrize(
    ("vectors", "rows", "message"),
    [
        (np.zeros((2, 7), np.float32), _rows(2), "N × 8"),
        (np.zeros((3, 8), np.float32), _rows(2), "3 embeddings but 2"),
        (np.full((1, 8), np.nan, np.float32), _rows(1), "item-0.*not finite"),
        (np.zeros((2, 8), np.float32), [*_rows(1), *_rows(1)], "duplicate row id 'item-0'"),
    ],
)
def test_bad_additions_are_refused(
    tmp_path: Path, vectors: np.ndarray, rows: list[FeatureRow], message: str
) -> None:
    writer = FeatureWriter(tmp_path / "f", modality="image", fingerprint=FINGERPRINT, dim=8)
    with pytest.raises(ConfigError, match=message):
        writer.add(vectors, rows)
    writer.abort()


def test_tampered_shard_fails_verification(tmp_path: Path) -> None:
    store = _write(tmp_path / "features", _vectors(6))
    shard = store.path / "shard-00001.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    FeatureStore.open(store.path)  # shapes still fine without verification
    with pytest.raises(DataFormatError, match=r"shard-00001\.npy.*field 'sha256'"):
        FeatureStore.open(store.path, verify=True)


def test_missing_shard_and_inconsistent_manifest_are_named(tmp_path: Path) -> None:
    store = _write(tmp_path / "features", _vectors(6))
    manifest_path = store.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())

    manifest["count"] = 7
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match="shards hold 6 rows, count says 7"):
        FeatureStore.open(store.path)

    manifest["count"] = 6
    del manifest["encoder"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match=r"manifest\.json: field 'encoder'"):
        FeatureStore.open(store.path)

    manifest["encoder"] = FINGERPRINT
    manifest_path.write_text(json.dumps(manifest))
    (store.path / "shard-00000.npy").unlink()
    with pytest.raises(DataFormatError, match=r"shard-00000\.npy: shard listed .* is missing"):
        FeatureStore.open(store.path)


def test_directory_without_manifest_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not a feature store"):
        FeatureStore.open(tmp_path)
