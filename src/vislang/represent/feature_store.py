"""Feature stores: embeddings on disk as float32 shards beside a metadata table and a manifest.

A feature store is a directory::

    manifest.json       format, modality, encoder fingerprint, dim, count, shards with sha256,
                        the metadata file's sha256, and the inputs that could not be embedded
    metadata.parquet    one row per embedding: row, id, image_id, image, text, language, source,
                        split (row = position of the embedding across the shards)
    shard-00000.npy     float32 rows × dim, C order; read back memory-mapped
    shard-00001.npy     ...

:class:`FeatureWriter` builds a store in a hidden staging directory beside its destination and
renames it into place only when every file is written, so a reader sees either no store or a whole
one; :class:`FeatureStore` opens a store and memory-maps its shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vislang.errors import ConfigError, DataFormatError
from vislang.fileio import atomic_open, atomic_write_json

FORMAT = "vislang-features"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
METADATA = "metadata.parquet"
MODALITIES = ("image", "text")
DEFAULT_SHARD_ROWS = 50_000

METADATA_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("id", pa.string()),
        ("image_id", pa.string()),
        ("image", pa.string()),
        ("text", pa.string()),
        ("language", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """What one embedding is of: the item's id in its source, its image and text, language,
    source dataset and split. ``id`` is unique within a store; ``image_id`` groups the rows of one
    image (an image's own embedding and the embeddings of its captions share it)."""

    id: str
    image_id: str | None = None
    image: str | None = None
    text: str | None = None
    language: str | None = None
    source: str | None = None
    split: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """The row as a plain dict (field name → value)."""
        return dataclasses.asdict(self)


ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FeatureRow))


def metadata_table(rows: Sequence[FeatureRow], first_row: int = 0) -> pa.Table:
    """The metadata table of ``rows``, numbered from ``first_row``."""
    columns: dict[str, Any] = {
        "row": pa.array(np.arange(first_row, first_row + len(rows), dtype=np.int64))
    }
    for name in ROW_FIELDS:
        columns[name] = pa.array([getattr(r, name) for r in rows], type=pa.string())
    return pa.table(columns, schema=METADATA_SCHEMA)


def rows_from_table(table: pa.Table) -> list[FeatureRow]:
    """The :class:`FeatureRow` of every line of a metadata table, in order."""
    columns = {name: table.column(name).to_pylist() for name in ROW_FIELDS}
    return [
        FeatureRow(**{name: columns[name][i] for name in ROW_FIELDS}) for i in range(table.num_rows)
    ]


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: str | Path) -> None:
    """Flush a directory's entries (new and renamed files) to disk, where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_parquet(path: str | Path, table: pa.Table) -> None:
    """Write a table as parquet atomically."""
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class _HashingWriter:
    """A write-only file wrapper that hashes every byte written through it."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self._handle.write(data)


class FeatureWriter:
    """Writes embeddings and their metadata into a new feature store at ``out_dir``.

    Rows are buffered and written as shards of ``shard_rows``; :meth:`close` writes the metadata
    and the manifest and moves the finished store into place (replacing an existing store only
    when ``overwrite`` is set). Used as a context manager, an exception discards the partial store.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        modality: str,
        fingerprint: Mapping[str, Any],
        dim: int,
        model: str | None = None,
        shard_rows: int = DEFAULT_SHARD_ROWS,
        overwrite: bool = False,
    ) -> None:
        if modality not in MODALITIES:
            raise ConfigError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if dim <= 0 or shard_rows <= 0:
            raise ConfigError(f"dim and shard_rows must be positive (got {dim}, {shard_rows})")
        self.out_dir = Path(out_dir)
        occupied = self.out_dir.exists() and (
            not self.out_dir.is_dir() or any(self.out_dir.iterdir())
        )
        if occupied and not overwrite:
            raise ConfigError(
                f"{self.out_dir} already exists and is not empty; choose another output "
                "directory or allow overwriting it"
            )
        self.modality = modality
        self.fingerprint = dict(fingerprint)
        self.dim = dim
        self.model = model
        self.shard_rows = shard_rows
        self.overwrite = overwrite
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(
            tempfile.mkdtemp(prefix=f".{self.out_dir.name}.staging-", dir=self.out_dir.parent)
        )
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._rows: list[FeatureRow] = []
        self._ids: set[str] = set()
        self._shards: list[dict[str, Any]] = []
        self._failures: list[dict[str, str]] = []
        self._closed = False

    @property
    def count(self) -> int:
        """Rows added so far."""
        return len(self._rows)

    def add(self, embeddings: np.ndarray, rows: Sequence[FeatureRow]) -> None:
        """Append ``embeddings`` (N × dim) described by ``rows`` (N of them, ids unique)."""
        self._check_open()
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise ConfigError(f"embeddings must be N × {self.dim}, got {embeddings.shape}")
        if embeddings.shape[0] != len(rows):
            raise ConfigError(f"{embeddings.shape[0]} embeddings but {len(rows)} metadata rows")
        if not np.isfinite(embeddings).all():
            bad = rows[int(np.flatnonzero(~np.isfinite(embeddings).all(axis=1))[0])].id
            raise ConfigError(f"embedding of {bad!r} is not finite (NaN or inf)")
        for row in rows:
            if row.id in self._ids:
                raise ConfigError(f"duplicate row id {row.id!r} in feature store {self.out_dir}")
            self._ids.add(row.id)
        self._rows.extend(rows)
        self._pending.append(embeddings)
        self._pending_rows += embeddings.shape[0]
        while self._pending_rows >= self.shard_rows:
            self._flush(self.shard_rows)

    def add_failures(self, failures: Iterable[tuple[str, str]]) -> None:
        """Record inputs that could not be embedded, as (source, reason) pairs."""
        self._check_open()
        self._failures.extend({"source": str(s), "reason": str(r)} for s, r in failures)

    def close(self, extra_json: Mapping[str, Any] | None = None) -> FeatureStore:
        """Write the last shard, the metadata and the manifest; move the store into place.

        ``extra_json`` maps file names to objects written as JSON into the store with it (e.g. a
        job's ``report.json``).
        """
        self._check_open()
        for name, obj in (extra_json or {}).items():
            if name in (MANIFEST, METADATA) or Path(name).name != name:
                raise ConfigError(f"cannot add a file named {name!r} to a feature store")
            atomic_write_json(self._staging / name, obj)
        while self._pending_rows:
            self._flush(min(self._pending_rows, self.shard_rows))
        write_parquet(self._staging / METADATA, metadata_table(self._rows))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "modality": self.modality,
            "encoder": self.fingerprint,
            "model": self.model,
            "dim": self.dim,
            "count": len(self._rows),
            "dtype": "float32",
            "shards": self._shards,
            "metadata": {"file": METADATA, "sha256": sha256_file(self._staging / METADATA)},
            "failures": self._failures,
            "created": _utc_now(),
        }
        atomic_write_json(self._staging / MANIFEST, manifest)
        fsync_dir(self._staging)
        self._move_into_place()
        self._closed = True
        return FeatureStore.open(self.out_dir)

    def abort(self) -> None:
        """Discard everything written so far; the destination is left as it was."""
        if not self._closed:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._closed = True

    def __enter__(self) -> FeatureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError(f"feature writer for {self.out_dir} is already closed")

    def _flush(self, rows: int) -> None:
        block = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        shard, rest = block[:rows], block[rows:]
        self._pending = [rest] if len(rest) else []
        self._pending_rows = len(rest)
        name = f"shard-{len(self._shards):05d}.npy"
        with atomic_open(self._staging / name, "wb") as handle:
            hashing = _HashingWriter(handle)
            np.lib.format.write_array(hashing, np.ascontiguousarray(shard), allow_pickle=False)
        self._shards.append({"file": name, "rows": int(rows), "sha256": hashing.digest.hexdigest()})

    def _move_into_place(self) -> None:
        if not self.out_dir.exists():
            os.rename(self._staging, self.out_dir)
        else:
            old = Path(
                tempfile.mkdtemp(prefix=f".{self.out_dir.name}.old-", dir=self.out_dir.parent)
            )
            os.rename(self.out_dir, old / "store")
            os.rename(self._staging, self.out_dir)
            shutil.rmtree(old, ignore_errors=True)
        fsync_dir(self.out_dir.parent)


class FeatureStore:
    """A feature store opened for reading: manifest, metadata and memory-mapped shards."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._metadata: pa.Table | None = None
        self._shards: list[np.ndarray] | None = None
        self._offsets = np.cumsum([0] + [s["rows"] for s in manifest["shards"]])

    @classmethod
    def open(cls, path: str | Path, *, verify: bool = False) -> FeatureStore:
        """Open the store at ``path``; ``verify`` also checks every file's sha256.

        Raises :class:`DataFormatError` naming the file and field when the store is incomplete or
        inconsistent.
        """
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise DataFormatError(path, "not a feature store (no manifest.json)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(manifest_path, f"invalid JSON: {exc}") from exc
        _check_manifest(manifest_path, manifest)
        store = cls(path, manifest)
        store._check_files(verify)
        return store

    @property
    def modality(self) -> str:
        """``"image"`` or ``"text"``: what the embeddings were computed from."""
        return self.manifest["modality"]

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The encoder's fingerprint (name, config_hash, weights_hash, dim)."""
        return self.manifest["encoder"]

    @property
    def model(self) -> str | None:
        """The model reference the embeddings were computed with (a preset name or a directory)."""
        return self.manifest.get("model")

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.manifest["dim"])

    @property
    def count(self) -> int:
        """Number of embeddings."""
        return int(self.manifest["count"])

    @property
    def failures(self) -> list[dict[str, str]]:
        """Inputs that could not be embedded: ``{"source", "reason"}`` dicts."""
        return list(self.manifest.get("failures", []))

    def __len__(self) -> int:
        return self.count

    @property
    def metadata(self) -> pa.Table:
        """The metadata table (read on first use)."""
        if self._metadata is None:
            self._metadata = pq.read_table(self.path / METADATA, schema=METADATA_SCHEMA)
        return self._metadata

    def rows(self) -> list[FeatureRow]:
        """Every row's metadata as :class:`FeatureRow`, in row order."""
        return rows_from_table(self.metadata)

    def shards(self) -> list[np.ndarray]:
        """The shards as read-only memory-mapped float32 arrays (rows × dim)."""
        if self._shards is None:
            self._shards = [
                np.load(self.path / s["file"], mmap_mode="r", allow_pickle=False)
                for s in self.manifest["shards"]
            ]
        return self._shards

    def iter_chunks(self, max_rows: int = DEFAULT_SHARD_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, block of at most ``max_rows`` embeddings) over the whole store, in order."""
        for offset, shard in zip(self._offsets, self.shards(), strict=False):
            for start in range(0, shard.shape[0], max_rows):
                yield int(offset + start), shard[start : start + max_rows]

    def take(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The embeddings of the given rows (any order), copied into memory."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.count):
            raise IndexError(f"row out of range 0..{self.count - 1}")
        out = np.empty((rows.size, self.dim), dtype=np.float32)
        shard_of = np.searchsorted(self._offsets, rows, side="right") - 1
        shards = self.shards()
        for s in np.unique(shard_of):
            mask = shard_of == s
            out[mask] = shards[s][rows[mask] - self._offsets[s]]
        return out

    def embeddings(self) -> np.ndarray:
        """All embeddings as one in-memory (count × dim) array."""
        if not self.count:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([np.asarray(s) for s in self.shards()])

    def _check_files(self, verify: bool) -> None:
        for shard in self.manifest["shards"]:
            file = self.path / shard["file"]
            if not file.is_file():
                raise DataFormatError(file, "shard listed in manifest.json is missing")
            array = np.load(file, mmap_mode="r", allow_pickle=False)
            if array.dtype != np.float32 or array.shape != (shard["rows"], self.dim):
                raise DataFormatError(
                    file,
                    f"expected float32 {shard['rows']} × {self.dim}, "
                    f"found {array.dtype} {array.shape}",
                )
            if verify and sha256_file(file) != shard["sha256"]:
                raise DataFormatError(file, "checksum differs from manifest.json", field="sha256")
        meta_file = self.path / METADATA
        if not meta_file.is_file():
            raise DataFormatError(meta_file, "metadata table is missing")
        if verify and sha256_file(meta_file) != self.manifest["metadata"]["sha256"]:
            raise DataFormatError(meta_file, "checksum differs from manifest.json", field="sha256")
        rows = pq.read_metadata(meta_file).num_rows
        if rows != self.count:
            raise DataFormatError(meta_file, f"{rows} rows but manifest.json says {self.count}")


def _check_manifest(path: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise DataFormatError(path, "expected a JSON object")
    if manifest.get("format") != FORMAT:
        raise DataFormatError(path, f"expected {FORMAT!r}", field="format")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataFormatError(
            path, f"unsupported (this vislang reads {FORMAT_VERSION})", field="format_version"
        )
    required = {
        "modality": str,
        "encoder": dict,
        "dim": int,
        "count": int,
        "shards": list,
        "metadata": dict,
    }
    for key, kind in required.items():
        if not isinstance(manifest.get(key), kind):
            raise DataFormatError(path, f"missing or not a {kind.__name__}", field=key)
    if manifest["modality"] not in MODALITIES:
        raise DataFormatError(path, f"must be one of {MODALITIES}", field="modality")
    for i, shard in enumerate(manifest["shards"]):
        if not isinstance(shard, dict) or not {"file", "rows", "sha256"} <= shard.keys():
            raise DataFormatError(path, "each shard needs file, rows, sha256", field=f"shards[{i}]")
    total = sum(s["rows"] for s in manifest["shards"])
    if total != manifest["count"]:
        raise DataFormatError(path, f"shards hold {total} rows, count says {manifest['count']}")
