"""FAISS indexes over L2-normalised embeddings (inner product = cosine), and their recall.

Three kinds, chosen by the size of the store and how much recall may be traded for speed:

* ``flat``: exact inner product (``IndexFlatIP``), the default. Search cost grows with the store.
* ``ivf``: an inverted file (``IndexIVFFlat``): k-means splits the vectors into ``nlist`` lists and
  a query scans only the ``nprobe`` lists closest to it. ``nlist`` defaults to ≈ 2·√n (at least 39
  training points per list), trained on a seeded sample of ``64 × nlist`` vectors; ``nprobe``
  defaults to the smallest power of two whose measured recall@k reaches the target.
* ``hnsw``: a navigable small-world graph (``IndexHNSWFlat``); no training, larger memory;
  ``efSearch`` is tuned like ``nprobe``.

Recall@k is measured on a seeded sample of stored vectors used as queries, against exact search
over the same vectors; each query's own row is left out of both result lists, so the trivial
self-match does not inflate the figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from vislang.errors import ConfigError

INDEX_KINDS = ("flat", "ivf", "hnsw")
MIN_POINTS_PER_LIST = 39  # FAISS's k-means warns below this many training points per centroid
_EXACT_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class IndexSpec:
    """How to build an index. ``None`` parameters are chosen by heuristics or tuned for
    ``target_recall`` (recall@``recall_k`` measured on ``recall_queries`` stored vectors)."""

    kind: str = "flat"
    nlist: int | None = None
    nprobe: int | None = None
    train_points_per_list: int = 64
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int | None = None
    target_recall: float = 0.95
    recall_k: int = 10
    recall_queries: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in INDEX_KINDS:
            raise ConfigError(f"index kind must be one of {', '.join(INDEX_KINDS)}: {self.kind!r}")
        if not 0.0 < self.target_recall <= 1.0:
            raise ConfigError(f"target recall must be in (0, 1], got {self.target_recall}")
        for name in ("nlist", "nprobe", "ef_search"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")


def default_nlist(count: int) -> int:
    """≈ 2·√count inverted lists, capped so that each list has at least 39 training points."""
    return max(1, min(round(2 * math.sqrt(count)), count // MIN_POINTS_PER_LIST))


def new_index(spec: IndexSpec, dim: int, count: int) -> faiss.Index:
    """An empty index of ``spec.kind`` for ``count`` vectors of ``dim`` (inner-product metric)."""
    if spec.kind == "flat":
        return faiss.IndexFlatIP(dim)
    if spec.kind == "ivf":
        nlist = spec.nlist or default_nlist(count)
        if count < nlist:
            raise ConfigError(f"an IVF index with {nlist} lists needs at least {nlist} vectors")
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = spec.seed
        return index
    index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = spec.ef_construction
    return index


def training_rows(spec: IndexSpec, index: faiss.Index, count: int) -> np.ndarray:
    """Sorted rows of the seeded sample an untrained index is trained on (empty if none needed)."""
    if index.is_trained:
        return np.zeros(0, dtype=np.int64)
    nlist = faiss.extract_index_ivf(index).nlist
    size = min(count, nlist * spec.train_points_per_list)
    rng = np.random.default_rng(spec.seed)
    return np.sort(rng.choice(count, size=size, replace=False))


def search_parameter(index: faiss.Index) -> tuple[str, int] | None:
    """The index's speed/recall knob and its value: ``nprobe`` (IVF), ``efSearch`` (HNSW)."""
    if isinstance(index, faiss.IndexIVF):
        return "nprobe", int(index.nprobe)
    if isinstance(index, faiss.IndexHNSW):
        return "efSearch", int(index.hnsw.efSearch)
    return None


def set_search_parameter(index: faiss.Index, value: int) -> None:
    """Set ``nprobe`` (IVF, capped at ``nlist``) or ``efSearch`` (HNSW); no-op for flat."""
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = int(min(value, index.nlist))
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = int(value)


def describe(index: faiss.Index) -> dict[str, Any]:
    """The index's kind, FAISS class and parameters, for manifests and reports."""
    info: dict[str, Any] = {"faiss_class": type(index).__name__, "metric": "inner_product"}
    if isinstance(index, faiss.IndexIVF):
        info.update(kind="ivf", nlist=int(index.nlist), nprobe=int(index.nprobe))
    elif isinstance(index, faiss.IndexHNSW):
        info.update(
            kind="hnsw",
            M=int(index.hnsw.nb_neighbors(1)),
            efConstruction=int(index.hnsw.efConstruction),
            efSearch=int(index.hnsw.efSearch),
        )
    else:
        info.update(kind="flat")
    return info


def reconstruct_rows(index: faiss.Index, rows: np.ndarray) -> np.ndarray:
    """The stored vectors of ``rows`` (for IVF indexes this builds the id → list map once)."""
    if isinstance(index, faiss.IndexIVF) and index.direct_map.type == faiss.DirectMap.NoMap:
        index.make_direct_map()
    return index.reconstruct_batch(np.asarray(rows, dtype=np.int64))


def _stored_chunks(index: faiss.Index) -> Iterator[tuple[int, np.ndarray]]:
    if isinstance(index, faiss.IndexHNSW):
        index = faiss.downcast_index(index.storage)
    if isinstance(index, faiss.IndexIVF) and index.direct_map.type == faiss.DirectMap.NoMap:
        index.make_direct_map()
    for start in range(0, index.ntotal, _EXACT_CHUNK_ROWS):
        rows = min(_EXACT_CHUNK_ROWS, index.ntotal - start)
        yield start, index.reconstruct_n(start, rows)


def exact_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``queries`` over every vector stored in ``index``."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if isinstance(index, faiss.IndexFlat):
        return index.search(queries, k)
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start, block in _stored_chunks(index):
        scores, rows = faiss.knn(queries, block, min(k, len(block)), faiss.METRIC_INNER_PRODUCT)
        if rows.shape[1] < k:
            pad = k - rows.shape[1]
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
        heap.add_result(scores, np.where(rows >= 0, rows + start, -1))
    heap.finalize()
    return heap.D, heap.I


def _without_self(rows: np.ndarray, query_rows: np.ndarray, k: int) -> list[set[int]]:
    out = []
    for found, own in zip(rows, query_rows, strict=True):
        kept = [int(r) for r in found if r != own and r >= 0]
        out.append(set(kept[:k]))
    return out


def recall_at_k(
    approximate: np.ndarray, exact: np.ndarray, query_rows: np.ndarray, k: int
) -> float:
    """Mean overlap of the approximate and exact top-``k`` (query's own row left out of both)."""
    approx_sets = _without_self(approximate, query_rows, k)
    exact_sets = _without_self(exact, query_rows, k)
    overlaps = [len(a & e) / len(e) for a, e in zip(approx_sets, exact_sets, strict=True) if len(e)]
    return round(float(np.mean(overlaps)), 4) if overlaps else 1.0


def _candidate_values(index: faiss.Index) -> list[int]:
    if isinstance(index, faiss.IndexIVF):
        values = [2**i for i in range(int(math.log2(index.nlist)) + 1)]
        return values + ([index.nlist] if values[-1] != index.nlist else [])
    return [16, 32, 64, 128, 256, 512, 1024, 2048]


def tune_and_measure(index: faiss.Index, spec: IndexSpec) -> dict[str, Any]:
    """Measure recall@k of ``index`` against exact search; pick its search parameter.

    With the spec's ``nprobe``/``ef_search`` unset, tries increasing values and keeps the first
    whose recall reaches ``spec.target_recall`` (the last tried when none does). Returns the report
    stored in the datastore's manifest.
    """
    k = spec.recall_k
    report: dict[str, Any] = {"k": k, "target": spec.target_recall}
    if isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return report | {"recall": 1.0, "queries": 0, "method": "exact search"}
    rng = np.random.default_rng(spec.seed + 1)
    query_rows = np.sort(
        rng.choice(index.ntotal, size=min(spec.recall_queries, index.ntotal), replace=False)
    )
    queries = reconstruct_rows(index, query_rows)
    _, exact = exact_search(index, queries, k + 1)
    fixed = spec.nprobe if isinstance(index, faiss.IndexIVF) else spec.ef_search
    tried: dict[int, float] = {}
    for value in [fixed] if fixed is not None else _candidate_values(index):
        set_search_parameter(index, value)
        name, used = search_parameter(index)  # type: ignore[misc]
        _, approximate = index.search(queries, k + 1)
        tried[used] = recall_at_k(approximate, exact, query_rows, k)
        if tried[used] >= spec.target_recall:
            break
    return report | {
        "recall": tried[used],
        "queries": len(query_rows),
        "method": "stored vectors as queries, own row excluded",
        name: used,
        "tried": {str(v): r for v, r in tried.items()},
    }
