"""The datastore: exact and approximate search, metadata, filters, encoder checks, atomic saves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError, DataFormatError
from vislang.represent.feature_store import FeatureRow, FeatureStore, FeatureWriter
from vislang.retrieval import datastore as datastore_module
from vislang.retrieval.datastore import (
    Datastore,
    EncoderMismatchError,
    search_texts,
)
from vislang.retrieval.index import IndexSpec

DIM = 16
FINGERPRINT = {"name": "toy", "config_hash": "cfg1", "weights_hash": "w1", "dim": DIM}
LANGUAGES = ("en", "de", "zh")


def clustered(count: int, seed: int, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).standard_normal((clusters, DIM))
    vectors = centres[rng.integers(0, clusters, count)] + 0.4 * rng.standard_normal((count, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def caption_rows(count: int, start: int = 0) -> list[FeatureRow]:
    """Three captions per image, in a rotating language."""
    return [
        FeatureRow(
            id=f"cap-{i}",
            image_id=f"img-{i // 3}",
            image=f"img-{i // 3}.jpg",
            text=f"caption {i}",
            language=LANGUAGES[i % 3],
            source="toy",
            split="val",
        )
        for i in range(start, start + count)
    ]


def write_features(
    path: Path,
    vectors: np.ndarray,
    start: int = 0,
    fingerprint: dict | None = None,
    modality: str = "text",
) -> FeatureStore:
    with FeatureWriter(
        path, modality=modality, fingerprint=fingerprint or FINGERPRINT, dim=DIM, shard_rows=500
    ) as writer:
        writer.add(vectors, caption_rows(len(vectors), start))
    return FeatureStore.open(path)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(3000, seed=0)


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory, vectors: np.ndarray) -> FeatureStore:
    return write_features(tmp_path_factory.mktemp("features") / "captions", vectors)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :k]


def test_flat_search_is_exact_cosine(features: FeatureStore, vectors: np.ndarray) -> None:
    store = Datastore.build(features)
    queries = clustered(25, seed=7) * 3.0  # unnormalised on purpose: scores are cosines
    scores, rows = store.search_rows(queries, 5, fingerprint=FINGERPRINT)

    normalised = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    expected = exact_top(vectors, normalised, 5)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(
        scores, np.take_along_axis(normalised @ vectors.T, expected, axis=1), atol=1e-5
    )
    assert store.recall["recall"] == 1.0 and store.manifest()["index"]["kind"] == "flat"


def test_hits_carry_metadata(features: FeatureStore, vectors: np.ndarray) -> None:
    store = Datastore.build(features)
    [hits] = store.search(vectors[42], 3, fingerprint=FINGERPRINT)
    top = hits[0]
    assert (top.row, top.id, top.image_id, top.text, top.language) == (
        42,
        "cap-42",
        "img-14",
        "caption 42",
        "en",
    )
    assert top.score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert set(top.to_dict()) == {
        "row",
        "score",
        "id",
        "image_id",
        "image",
        "text",
        "language",
        "source",
        "split",
    }


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_report_and_reach_recall(
    kind: str, features: FeatureStore, vectors: np.ndarray
) -> None:
    spec = IndexSpec(kind=kind, target_recall=0.9, recall_queries=200)
    store = Datastore.build(features, spec)
    recall = store.recall
    assert recall["queries"] == 200 and recall["recall"] >= 0.9
    parameter = "nprobe" if kind == "ivf" else "efSearch"
    assert store.manifest()["index"][parameter] == recall[parameter]

    queries = clustered(100, seed=11)
    _, rows = store.search_rows(queries, 10, fingerprint=FINGERPRINT)
    expected = exact_top(vectors, queries, 10)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(rows, expected, strict=True)])
    assert overlap >= 0.85


def test_ivf_parameters_can_be_fixed(features: FeatureStore) -> None:
    store = Datastore.build(features, IndexSpec(kind="ivf", nlist=16, nprobe=2))
    info = store.manifest()["index"]
    assert (info["nlist"], info["nprobe"]) == (16, 2)
    assert list(store.recall["tried"]) == ["2"]


def test_save_and_load_give_the_same_answers(
    tmp_path: Path, features: FeatureStore, vectors: np.ndarray
) -> None:
    store = Datastore.build(features, IndexSpec(kind="ivf", recall_queries=100))
    store.save(tmp_path / "store")
    loaded = Datastore.load(tmp_path / "store", verify=True)
    queries = clustered(10, seed=3)
    np.testing.assert_array_equal(
        loaded.search_rows(queries, 5, fingerprint=FINGERPRINT)[1],
        store.search_rows(queries, 5, fingerprint=FINGERPRINT)[1],
    )
    assert loaded.manifest()["index"] == store.manifest()["index"]
    assert loaded.recall == store.recall and loaded.version == 1
    assert (tmp_path / "store" / "CURRENT").read_text().strip() == "v000001"


def test_query_from_another_encoder_is_refused(features: FeatureStore) -> None:
    store = Datastore.build(features)
    other = FINGERPRINT | {"name": "clip-other", "weights_hash": "w2"}
    with pytest.raises(EncoderMismatchError, match=r"'toy'.*'clip-other'.*weights_hash"):
        store.search(np.ones(DIM, np.float32), 1, fingerprint=other)
    renamed = FINGERPRINT | {"name": "toy-copy"}  # same config and weights: the same encoder
    assert len(store.search(np.ones(DIM, np.float32), 1, fingerprint=renamed)[0]) == 1
    with pytest.raises(ConfigError, match=f"N × {DIM}"):
        store.search(np.ones(DIM + 1, np.float32), 1, fingerprint=FINGERPRINT)


def test_filters_drop_the_query_image_and_other_languages(
    features: FeatureStore, vectors: np.ndarray
) -> None:
    store = Datastore.build(features)
    queries = vectors[[0, 300]]  # captions of img-0 and img-100
    unfiltered = store.search(queries, 4, fingerprint=FINGERPRINT)
    assert unfiltered[0][0].image_id == "img-0"

    hits = store.search(
        queries, 4, fingerprint=FINGERPRINT, exclude_image_ids=["img-0", None], language="de"
    )
    assert [len(h) for h in hits] == [4, 4]
    assert all(h.image_id != "img-0" for h in hits[0])
    assert all(h.language == "de" for query_hits in hits for h in query_hits)
    german = np.array([i for i in range(len(vectors)) if LANGUAGES[i % 3] == "de"])
    keep = german[german // 3 != 0]
    expected = keep[np.argsort(-(vectors[keep] @ vectors[0]), kind="stable")[:4]]
    assert [h.row for h in hits[0]] == expected.tolist()


def test_filter_that_leaves_too_few_rows_pads(tmp_path: Path) -> None:
    features = write_features(tmp_path / "few", clustered(6, seed=2))
    store = Datastore.build(features)
    scores, rows = store.search_rows(
        clustered(1, seed=5), 4, fingerprint=FINGERPRINT, language="zh"
    )
    assert sorted(rows[0][:2].tolist()) == [2, 5] and rows[0][2:].tolist() == [-1, -1]
    assert np.isneginf(scores[0][2:]).all()


def test_add_appends_and_saves_a_new_version(
    tmp_path: Path, features: FeatureStore, vectors: np.ndarray
) -> None:
    root = tmp_path / "store"
    store = Datastore.build(features, IndexSpec(kind="ivf", recall_queries=100))
    store.save(root)
    more = clustered(600, seed=9)
    extra = write_features(tmp_path / "more", more, start=len(vectors))

    store.add(extra)
    assert store.count == len(vectors) + len(more)
    assert store.metadata.column("row").to_pylist() == list(range(store.count))
    assert store.recall["queries"] == 100
    store.save(root)

    loaded = Datastore.load(root)
    assert loaded.version == 2 and loaded.count == 3600 and len(loaded.inputs) == 2
    [hits] = loaded.search(more[17], 1, fingerprint=FINGERPRINT)
    assert (hits[0].row, hits[0].id) == (3017, "cap-3017")
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["v000001", "v000002"]


def test_add_refuses_inconsistent_inputs_and_changes_nothing(
    tmp_path: Path, features: FeatureStore
) -> None:
    store = Datastore.build(features)
    other_encoder = write_features(
        tmp_path / "other", clustered(5, 1), 5000, FINGERPRINT | {"config_hash": "cfg2"}
    )
    images = write_features(tmp_path / "images", clustered(5, 1), 5000, modality="image")
    with pytest.raises(EncoderMismatchError, match="config_hash"):
        store.add(other_encoder)
    with pytest.raises(ConfigError, match="image embeddings; this datastore holds text"):
        store.add(images)
    with pytest.raises(ConfigError, match="3000 ids already in the datastore"):
        store.add(features)
    assert store.count == 3000 and store.metadata.num_rows == 3000


def test_failed_save_keeps_the_previous_version_live(
    tmp_path: Path, features: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    store = Datastore.build(features)
    store.save(root)
    store.add(write_features(tmp_path / "more", clustered(50, 4), start=3000))

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(datastore_module, "write_parquet", fail)
    with pytest.raises(OSError, match="disk full"):
        store.save(root)
    monkeypatch.undo()

    assert Datastore.load(root, verify=True).count == 3000
    assert [p.name for p in (root / "versions").iterdir()] == ["v000001"]
    store.save(root)
    assert Datastore.load(root).count == 3050


KILL_SCRIPT = """
import os, signal, sys
from vislang.represent.feature_store import FeatureStore
from vislang.retrieval import datastore

store = datastore.Datastore.load(sys.argv[1])
store.add(FeatureStore.open(sys.argv[2]))
real = getattr(datastore, sys.argv[3])

def killed_midway(*args, **kwargs):
    real(*args, **kwargs) if sys.argv[3] == "sha256_file" else None
    os.kill(os.getpid(), signal.SIGKILL)

setattr(datastore, sys.argv[3], killed_midway)
store.save(sys.argv[1])
"""


@pytest.mark.parametrize(
    "kill_at",
    ["sha256_file", "atomic_write_text"],
    ids=["after-writing-the-index", "before-switching-CURRENT"],
)
def test_kill_9_during_save_leaves_previous_version_loadable(
    tmp_path: Path, features: FeatureStore, kill_at: str
) -> None:
    root = tmp_path / "store"
    Datastore.build(features).save(root)
    extra = write_features(tmp_path / "more", clustered(50, 4), start=3000)

    script = textwrap.dedent(KILL_SCRIPT)
    result = subprocess.run(
        [sys.executable, "-c", script, str(root), str(extra.path), kill_at],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == -9, result.stderr

    survivor = Datastore.load(root, verify=True)
    assert survivor.count == 3000 and survivor.version == 1
    survivor.add(extra)
    survivor.save(root)
    assert Datastore.load(root).count == 3050
    assert not [p for p in (root / "versions").iterdir() if p.name.startswith(".")]


def test_load_names_what_is_missing(tmp_path: Path, features: FeatureStore) -> None:
    with pytest.raises(DataFormatError, match="not a datastore"):
        Datastore.load(tmp_path)
    root = tmp_path / "store"
    Datastore.build(features).save(root)
    (root / "CURRENT").write_text("v000009\n")
    with pytest.raises(DataFormatError, match=r"CURRENT: points to a missing version 'v000009'"):
        Datastore.load(root)


class HashingTextEncoder:
    """Texts → normalised bag-of-character-trigram vectors; enough to exercise the query path."""

    name = "toy"
    preprocess = PreprocessConfig()
    embed_dim = DIM

    def __init__(self, weights_hash: str = "w1") -> None:
        self._weights_hash = weights_hash

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), DIM)
        for row, text in enumerate(texts):
            for i in range(len(text) - 2):
                out[row, sum(map(ord, text[i : i + 3])) % DIM] += 1.0
        return torch.nn.functional.normalize(out, dim=-1)

    def fingerprint(self) -> dict:
        return FINGERPRINT | {"weights_hash": self._weights_hash}


def test_search_texts_embeds_with_the_stores_encoder(tmp_path: Path) -> None:
    encoder = HashingTextEncoder()
    texts = ["a red circle", "two blue squares", "a green triangle", "a red square"]
    vectors = encoder.encode_texts(texts).numpy()
    features = write_features(tmp_path / "texts", vectors)
    store = Datastore.build(features)

    [hits] = search_texts(store, encoder, ["two blue squares"], k=2)
    assert hits[0].row == 1 and hits[0].score == pytest.approx(1.0)
    with pytest.raises(EncoderMismatchError):
        search_texts(store, HashingTextEncoder(weights_hash="other"), ["a red circle"])


def test_inconsistent_store_is_not_saved(tmp_path: Path, features: FeatureStore) -> None:
    store = Datastore.build(features)
    store.index.add(clustered(1, seed=8))  # as if an add had been interrupted midway
    with pytest.raises(ConfigError, match="3001 vectors, 3000 metadata rows"):
        store.save(tmp_path / "store")
    assert not (tmp_path / "store" / "CURRENT").exists()
