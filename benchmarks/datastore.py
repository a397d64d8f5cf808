"""Datastore search: IVF (tuned for recall@10 >= 0.95) against exact inner-product search.

Synthetic store: ``--count`` vectors of ``--dim`` dimensions drawn around ``--clusters`` Gaussian
centres (noise of norm ≈ ``--spread`` around unit centres), L2-normalised, seed fixed. Queries
are fresh draws from the same mixture (not stored vectors). Both datastores are built through
vislang's real path (feature store on disk → ``Datastore.build`` → ``save``), then searched with
the same batch of queries.

Baseline: exact search (``--kind flat``, FAISS ``IndexFlatIP``). Targets: IVF recall@10 >= 0.95
against the exact results, at >= 10× the exact queries/s.

    python benchmarks/datastore.py            # 1,000,000 × 256 (needs ~6 GB RAM, a few minutes)
    python benchmarks/datastore.py --quick    # 100,000 × 256
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from vislang.represent.feature_store import FeatureRow, FeatureStore, FeatureWriter
from vislang.retrieval.datastore import INDEX_FILE, VERSIONS, Datastore
from vislang.retrieval.index import IndexSpec

FINGERPRINT = {"name": "synthetic", "config_hash": "synthetic", "weights_hash": "seeded", "dim": 0}
CHUNK = 100_000


def clustered_vectors(
    rng: np.random.Generator, centres: np.ndarray, count: int, spread: float
) -> np.ndarray:
    """``count`` normalised draws around random ``centres`` (noise of norm ≈ ``spread``)."""
    dim = centres.shape[1]
    labels = rng.integers(0, len(centres), size=count)
    noise = rng.standard_normal((count, dim), dtype=np.float32) * (spread / np.sqrt(dim))
    vectors = centres[labels] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def write_store(path: Path, args: argparse.Namespace, fingerprint: dict) -> np.ndarray:
    """Write the synthetic feature store; return the held-out queries."""
    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    with FeatureWriter(
        path, modality="image", fingerprint=fingerprint, dim=args.dim, shard_rows=CHUNK
    ) as writer:
        for start in range(0, args.count, CHUNK):
            size = min(CHUNK, args.count - start)
            rows = [FeatureRow(id=f"v{i}", image_id=f"v{i}") for i in range(start, start + size)]
            writer.add(clustered_vectors(rng, centres, size, args.spread), rows)
    return clustered_vectors(rng, centres, args.queries, args.spread)


def rss_gb() -> float:
    """Resident memory of this process now, in GB (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 1e9


def peak_rss_gb() -> float:
    """Peak resident memory of this process, in GB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def timed_search(store: Datastore, queries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Rows found for ``queries`` and the queries/s of one batched search (after a warm-up)."""
    store.search_rows(queries[:8], k, fingerprint=store.encoder)
    start = time.perf_counter()
    _, rows = store.search_rows(queries, k, fingerprint=store.encoder)
    return rows, len(queries) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100,000 vectors")
    args = parser.parse_args()
    if args.quick:
        args.count = 100_000
    fingerprint = FINGERPRINT | {"dim": args.dim}

    with tempfile.TemporaryDirectory(prefix="vislang-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        queries = write_store(root / "features", args, fingerprint)
        features = FeatureStore.open(root / "features")
        print(
            f"store: {args.count:,} × {args.dim} float32 in {args.clusters} clusters, "
            f"written in {time.perf_counter() - start:.1f}s; {len(queries)} held-out queries"
        )

        results = {}
        for kind in ("flat", "ivf"):
            start = time.perf_counter()
            store = Datastore.build(features, IndexSpec(kind=kind, seed=args.seed))
            build_s = time.perf_counter() - start
            saved = store.save(root / kind)
            index_gb = (saved / INDEX_FILE).stat().st_size / 1e9
            rows, qps = timed_search(store, queries, args.k)
            results[kind] = rows
            print(
                f"{kind:>5}: build {build_s:6.1f}s  index {index_gb:.2f} GB  "
                f"{qps:9.1f} queries/s  {store.manifest()['index']}"
            )
            print(
                f"       recall@{args.k} measured at build: {store.recall['recall']:.4f}  "
                f"RSS now {rss_gb():.2f} GB, peak {peak_rss_gb():.2f} GB"
            )
            results[f"{kind}_qps"] = qps
            del store
        assert not any((root / kind / VERSIONS).glob(".*")), "staging left behind"

        exact, approximate = results["flat"], results["ivf"]
        recall = np.mean(
            [len(set(a) & set(e)) / args.k for a, e in zip(approximate, exact, strict=True)]
        )
        ratio = results["ivf_qps"] / results["flat_qps"]
        print(f"IVF recall@{args.k} vs exact on held-out queries: {recall:.4f} (target >= 0.95)")
        print(f"IVF / exact queries/s: {ratio:.1f}× (target >= 10×)")
        print("PASS" if recall >= 0.95 and ratio >= 10 else "MISS")


if __name__ == "__main__":
    main()
