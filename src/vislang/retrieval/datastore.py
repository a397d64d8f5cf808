"""The datastore: a FAISS index over image or caption embeddings, their metadata, and a manifest.

A datastore is a directory of immutable versions and a pointer to the live one::

    STORE/
      CURRENT                 the live version's name ("v000002"), replaced atomically
      versions/v000002/
        index.faiss           the FAISS index (row i of the metadata is FAISS id i)
        metadata.parquet      row, id, image_id, image, text, language, source, split
        manifest.json         encoder fingerprint, dim, modality, index kind and parameters,
                              recall measured when built, inputs, file checksums

:meth:`Datastore.save` writes a new version into a hidden staging directory, renames it into
``versions/`` and only then switches ``CURRENT``; an interrupted save (crash, kill -9) leaves the
previous version live and loadable. One process writes a datastore at a time.

Every search names the encoder that embedded its queries (its fingerprint); a query from an
encoder with another configuration or other weights is refused with :class:`EncoderMismatchError`,
because its vectors live in a different space. Embeddings are L2-normalised on the way in, so
scores are cosine similarities.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from vislang.console import progress
from vislang.errors import ConfigError, DataFormatError, VislangError
from vislang.fileio import atomic_write_json, atomic_write_text
from vislang.represent.encoder import ImageEncoder, ImageTextEncoder
from vislang.represent.feature_store import (
    METADATA_SCHEMA,
    FeatureStore,
    fsync_dir,
    sha256_file,
    write_parquet,
)
from vislang.retrieval.index import (
    IndexSpec,
    describe,
    new_index,
    training_rows,
    tune_and_measure,
)

FORMAT = "vislang-datastore"
FORMAT_VERSION = 1
POINTER = "CURRENT"
VERSIONS = "versions"
INDEX_FILE = "index.faiss"
METADATA_FILE = "metadata.parquet"
MANIFEST_FILE = "manifest.json"
IDENTITY_KEYS = ("config_hash", "weights_hash", "dim")
_ADD_CHUNK_ROWS = 65_536
_VERSION_NAME = re.compile(r"^v(\d{6})$")


class EncoderMismatchError(VislangError):
    """Query embeddings come from another encoder than the one the datastore was built with."""


def check_same_encoder(store: Mapping[str, Any], query: Mapping[str, Any], where: str) -> None:
    """Raise :class:`EncoderMismatchError` unless two fingerprints have the same config hash,
    weights hash and dimension (names are labels and may differ, e.g. a preset and its copy)."""
    differing = [key for key in IDENTITY_KEYS if store.get(key) != query.get(key)]
    if differing:
        details = ", ".join(f"{k} {query.get(k)!r} ≠ {store.get(k)!r}" for k in differing)
        raise EncoderMismatchError(
            f"{where}: built with encoder {store.get('name')!r} but the query comes from "
            f"{query.get('name')!r} ({details}); embed queries with the datastore's encoder"
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the datastore row, its cosine score and what the row is of."""

    row: int
    score: float
    id: str
    image_id: str | None
    image: str | None
    text: str | None
    language: str | None
    source: str | None
    split: str | None

    def to_dict(self) -> dict[str, Any]:
        """The hit as a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.__slots__}


def _normalised(vectors: np.ndarray) -> np.ndarray:
    out = np.array(vectors, dtype=np.float32, order="C", copy=True)
    faiss.normalize_L2(out)
    return out


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Datastore:
    """A searchable set of embeddings with their metadata; see the module docstring."""

    def __init__(
        self,
        index: faiss.Index,
        metadata: pa.Table,
        *,
        encoder: Mapping[str, Any],
        modality: str,
        model: str | None,
        spec: IndexSpec,
        recall: Mapping[str, Any],
        inputs: Sequence[Mapping[str, Any]],
        version: int | None = None,
    ) -> None:
        if index.ntotal != metadata.num_rows:
            raise ConfigError(f"index holds {index.ntotal} vectors but {metadata.num_rows} rows")
        self.index = index
        self.metadata = metadata
        self.encoder = dict(encoder)
        self.modality = modality
        self.model = model
        self.spec = spec
        self.recall = dict(recall)
        self.inputs = [dict(i) for i in inputs]
        self.version = version
        self._columns: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.index.d)

    @property
    def count(self) -> int:
        """Number of stored embeddings."""
        return int(self.index.ntotal)

    def __len__(self) -> int:
        return self.count

    # building -----------------------------------------------------------------------------

    @classmethod
    def build(
        cls, features: FeatureStore, spec: IndexSpec | None = None, *, show_progress: bool = False
    ) -> Datastore:
        """Index a feature store: train (IVF) on a seeded sample, add vectors, measure recall."""
        spec = spec or IndexSpec()
        if features.count == 0:
            raise ConfigError(f"{features.path}: the feature store is empty; nothing to index")
        index = new_index(spec, features.dim, features.count)
        sample = training_rows(spec, index, features.count)
        if len(sample):
            index.train(_normalised(features.take(sample)))
        _add_vectors(index, features, show_progress)
        metadata = features.metadata
        store = cls(
            index,
            metadata,
            encoder=features.fingerprint,
            modality=features.modality,
            model=features.model,
            spec=spec,
            recall={},
            inputs=[_input_record(features)],
        )
        store.recall = tune_and_measure(index, spec)
        return store

    def add(self, features: FeatureStore, *, show_progress: bool = False) -> None:
        """Append a feature store's embeddings and metadata; re-measures recall.

        The features must come from the same encoder, with the same modality, and carry ids not
        already stored; otherwise nothing changes and :class:`ConfigError` (or
        :class:`EncoderMismatchError`) says why. IVF lists are not retrained. Should adding fail
        midway (e.g. interrupted), discard this object and load the datastore again: the copy on
        disk is unchanged, and :meth:`save` refuses to write an inconsistent store.
        """
        check_same_encoder(self.encoder, features.fingerprint, str(features.path))
        if features.modality != self.modality:
            raise ConfigError(
                f"{features.path}: holds {features.modality} embeddings; this datastore holds "
                f"{self.modality} embeddings"
            )
        existing = set(self.metadata.column("id").to_pylist())
        clashes = [i for i in features.metadata.column("id").to_pylist() if i in existing]
        if clashes:
            raise ConfigError(
                f"{features.path}: {len(clashes)} ids already in the datastore, e.g. "
                f"{clashes[:3]}; add each input once"
            )
        first_row = self.count
        _add_vectors(self.index, features, show_progress)
        added = features.metadata.set_column(
            0, "row", pa.array(np.arange(first_row, self.count, dtype=np.int64))
        )
        self.metadata = pa.concat_tables([self.metadata, added.cast(METADATA_SCHEMA)])
        self.inputs.append(_input_record(features))
        self._columns.clear()
        self.recall = tune_and_measure(self.index, self.spec)

    # persistence --------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The manifest written beside the index (without file checksums)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "encoder": self.encoder,
            "model": self.model,
            "modality": self.modality,
            "dim": self.dim,
            "count": self.count,
            "index": describe(self.index),
            "spec": _spec_to_dict(self.spec),
            "recall": self.recall,
            "inputs": self.inputs,
        }

    def save(self, path: str | Path) -> Path:
        """Write a new version of the datastore at ``path`` and make it the live one.

        Keeps the new version and the one it replaces (so a reader still loading the old one is
        not cut short) and removes older versions and leftovers of interrupted saves. Returns the
        new version's directory.
        """
        if self.index.ntotal != self.metadata.num_rows:
            raise ConfigError(
                f"not saving an inconsistent datastore ({self.index.ntotal} vectors, "
                f"{self.metadata.num_rows} metadata rows); reload it from disk"
            )
        root = Path(path)
        versions = root / VERSIONS
        versions.mkdir(parents=True, exist_ok=True)
        previous = _live_version_name(root)
        number = max(_version_numbers(versions), default=0) + 1
        name = f"v{number:06d}"
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=versions))
        try:
            self._write_files(staging, number)
            os.rename(staging, versions / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(versions)
        atomic_write_text(root / POINTER, name + "\n")
        fsync_dir(root)
        self.version = number
        _prune(versions, keep={name, previous})
        return versions / name

    def _write_files(self, directory: Path, number: int) -> None:
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        _fsync_file(directory / INDEX_FILE)
        write_parquet(directory / METADATA_FILE, self.metadata)
        manifest = self.manifest() | {
            "version": number,
            "created": _utc_now(),
            "files": {
                INDEX_FILE: sha256_file(directory / INDEX_FILE),
                METADATA_FILE: sha256_file(directory / METADATA_FILE),
            },
        }
        atomic_write_json(directory / MANIFEST_FILE, manifest)
        fsync_dir(directory)

    @classmethod
    def load(cls, path: str | Path, *, verify: bool = False) -> Datastore:
        """Open the live version of the datastore at ``path``; ``verify`` checks file checksums."""
        root = Path(path)
        pointer = root / POINTER
        name = _live_version_name(root)
        if name is None:
            raise DataFormatError(root, f"not a datastore (no {POINTER} file)")
        directory = root / VERSIONS / name
        if not _VERSION_NAME.match(name) or not directory.is_dir():
            raise DataFormatError(pointer, f"points to a missing version {name!r}")
        manifest = _read_manifest(directory / MANIFEST_FILE)
        for file, digest in manifest["files"].items():
            if not (directory / file).is_file():
                raise DataFormatError(directory / file, "listed in manifest.json but missing")
            if verify and sha256_file(directory / file) != digest:
                raise DataFormatError(directory / file, "checksum differs from manifest.json")
        index = faiss.read_index(str(directory / INDEX_FILE))
        metadata = pq.read_table(directory / METADATA_FILE, schema=METADATA_SCHEMA)
        if not index.ntotal == metadata.num_rows == manifest["count"] or index.d != manifest["dim"]:
            raise DataFormatError(
                directory,
                f"inconsistent: index {index.ntotal}×{index.d}, {metadata.num_rows} metadata "
                f"rows, manifest {manifest['count']}×{manifest['dim']}",
            )
        return cls(
            index,
            metadata,
            encoder=manifest["encoder"],
            modality=manifest["modality"],
            model=manifest.get("model"),
            spec=IndexSpec(**manifest["spec"]),
            recall=manifest["recall"],
            inputs=manifest["inputs"],
            version=int(manifest["version"]),
        )

    # searching ----------------------------------------------------------------------------

    def search_rows(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        fingerprint: Mapping[str, Any],
        exclude_image_ids: Sequence[str | None] | None = None,
        language: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, rows) per query, best first, padded with (-inf, -1).

        ``fingerprint`` is the query encoder's; ``exclude_image_ids[i]`` drops rows of that image
        for query ``i`` (e.g. the captions of the query image itself); ``language`` keeps only
        rows in that language.
        """
        check_same_encoder(self.encoder, fingerprint, "datastore")
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ConfigError(f"queries must be N × {self.dim}, got {queries.shape}")
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if exclude_image_ids is not None and len(exclude_image_ids) != len(queries):
            raise ConfigError(
                f"{len(exclude_image_ids)} excluded image ids for {len(queries)} queries"
            )
        queries = _normalised(queries)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        filtered = exclude_image_ids is not None or language is not None
        pending = np.arange(len(queries))
        fetch = min(self.count, k if not filtered else 2 * k + 8)
        while len(pending) and fetch:
            found_scores, found_rows = self.index.search(queries[pending], fetch)
            unfinished = []
            for query, query_scores, query_rows in zip(
                pending, found_scores, found_rows, strict=True
            ):
                keep = self._keep(query_rows, query, exclude_image_ids, language)
                kept_rows, kept_scores = query_rows[keep][:k], query_scores[keep][:k]
                if len(kept_rows) < k and fetch < self.count:
                    unfinished.append(query)
                    continue
                rows[query, : len(kept_rows)] = kept_rows
                scores[query, : len(kept_rows)] = kept_scores
            pending = np.asarray(unfinished, dtype=np.int64)
            fetch = min(self.count, fetch * 4)
        return scores, rows

    def search(
        self,
        queries: np.ndarray,
        k: int = 10,
        *,
        fingerprint: Mapping[str, Any],
        exclude_image_ids: Sequence[str | None] | None = None,
        language: str | None = None,
    ) -> list[list[SearchHit]]:
        """Top-``k`` hits with their metadata per query; arguments as in :meth:`search_rows`."""
        scores, rows = self.search_rows(
            queries,
            k,
            fingerprint=fingerprint,
            exclude_image_ids=exclude_image_ids,
            language=language,
        )
        found = rows[rows >= 0]
        records = self.metadata.take(pa.array(found)).to_pylist() if len(found) else []
        by_row = {int(r): record for r, record in zip(found, records, strict=True)}
        return [
            [
                SearchHit(**by_row[int(r)] | {"score": float(s)})
                for s, r in zip(query_scores, query_rows, strict=True)
                if r >= 0
            ]
            for query_scores, query_rows in zip(scores, rows, strict=True)
        ]

    def _column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            self._columns[name] = np.asarray(self.metadata.column(name).to_pylist(), dtype=object)
        return self._columns[name]

    def _keep(
        self,
        rows: np.ndarray,
        query: int,
        exclude_image_ids: Sequence[str | None] | None,
        language: str | None,
    ) -> np.ndarray:
        keep = rows >= 0
        valid = rows[keep]
        mask = np.ones(len(valid), dtype=bool)
        if exclude_image_ids is not None and exclude_image_ids[query] is not None:
            mask &= self._column("image_id")[valid] != exclude_image_ids[query]
        if language is not None:
            mask &= self._column("language")[valid] == language
        keep[keep] = mask
        return keep


def search_texts(
    store: Datastore, encoder: ImageTextEncoder, texts: Sequence[str], k: int = 10, **filters: Any
) -> list[list[SearchHit]]:
    """Embed ``texts`` with ``encoder`` (refused unless it is the store's) and search."""
    check_same_encoder(store.encoder, encoder.fingerprint(), "datastore")
    with torch.inference_mode():
        queries = encoder.encode_texts(list(texts)).float().cpu().numpy()
    return store.search(queries, k, fingerprint=encoder.fingerprint(), **filters)


def search_images(
    store: Datastore, encoder: ImageEncoder, pixels: torch.Tensor, k: int = 10, **filters: Any
) -> list[list[SearchHit]]:
    """Embed preprocessed ``pixels`` (B, 3, H, W) with ``encoder`` and search."""
    check_same_encoder(store.encoder, encoder.fingerprint(), "datastore")
    with torch.inference_mode():
        queries = encoder.encode_images(pixels).float().cpu().numpy()
    return store.search(queries, k, fingerprint=encoder.fingerprint(), **filters)


def _add_vectors(index: faiss.Index, features: FeatureStore, show_progress: bool) -> None:
    with progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("indexing", total=features.count)
        for _, block in features.iter_chunks(_ADD_CHUNK_ROWS):
            index.add(_normalised(block))
            bar.advance(task, len(block))


def _input_record(features: FeatureStore) -> dict[str, Any]:
    return {
        "embeddings": str(features.path),
        "count": features.count,
        "created": features.manifest.get("created"),
    }


def _spec_to_dict(spec: IndexSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in spec.__dataclass_fields__}


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataFormatError(path, "manifest is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataFormatError(path, f"expected {FORMAT!r}", field="format")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataFormatError(path, f"this vislang reads {FORMAT_VERSION}", field="format_version")
    for key in ("encoder", "modality", "dim", "count", "spec", "recall", "inputs", "files"):
        if key not in manifest:
            raise DataFormatError(path, "missing", field=key)
    return manifest


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _version_numbers(versions: Path) -> list[int]:
    numbers = []
    for entry in versions.iterdir():
        match = _VERSION_NAME.match(entry.name)
        if match and entry.is_dir():
            numbers.append(int(match.group(1)))
    return numbers


def _live_version_name(root: Path) -> str | None:
    pointer = root / POINTER
    return pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else None


def _prune(versions: Path, keep: set[str | None]) -> None:
    for entry in versions.iterdir():
        if entry.name not in keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
