"""``vislang index``: build, extend and search a datastore of image or caption embeddings.

Which encoder embeds a query: the one given with ``--model``, or else the model the datastore's
manifest names (the ``--model`` of ``vislang embed``). Either way its fingerprint (config and
weights hashes) must equal the datastore's, or the search is refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.options import JsonFlag
from vislang.errors import ConfigError

app = typer.Typer(
    name="index",
    help="Datastores: FAISS indexes over feature stores, with metadata; build, add, search.",
    no_args_is_help=True,
)


@app.command("build")
def build(
    embeddings: Annotated[
        Path, typer.Option("--embeddings", help="Feature store written by `vislang embed`.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Datastore folder to create.")],
    kind: Annotated[
        str, typer.Option("--kind", help="flat (exact, default), ivf or hnsw (approximate).")
    ] = "flat",
    nlist: Annotated[
        int | None, typer.Option("--nlist", min=1, help="IVF lists (default ≈ 2·√N).")
    ] = None,
    nprobe: Annotated[
        int | None,
        typer.Option("--nprobe", min=1, help="IVF lists searched (default: tuned to the target)."),
    ] = None,
    ef_search: Annotated[
        int | None,
        typer.Option("--ef-search", min=1, help="HNSW efSearch (default: tuned to the target)."),
    ] = None,
    target_recall: Annotated[
        float, typer.Option("--target-recall", help="Recall@10 the tuning aims for.")
    ] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Seed of training and recall samples.")] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the datastore at --out (atomically).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Build a datastore from a feature store; approximate kinds report their measured recall."""
    from vislang.represent.feature_store import FeatureStore
    from vislang.retrieval.datastore import POINTER, Datastore
    from vislang.retrieval.index import IndexSpec

    if (out / POINTER).exists() and not overwrite:
        raise ConfigError(f"{out} is already a datastore; use --overwrite to replace it")
    if out.exists() and not (out / POINTER).exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not a datastore; choose an empty or new folder")
    spec = IndexSpec(
        kind=kind,
        nlist=nlist,
        nprobe=nprobe,
        ef_search=ef_search,
        target_recall=target_recall,
        seed=seed,
    )
    start = time.perf_counter()
    features = FeatureStore.open(embeddings)
    store = Datastore.build(features, spec, show_progress=not as_json)
    store.save(out)
    _emit_summary(out, store, time.perf_counter() - start, as_json, "datastore built")


@app.command("add")
def add(
    store_dir: Annotated[Path, typer.Argument(help="Datastore folder.", metavar="STORE")],
    embeddings: Annotated[
        Path, typer.Option("--embeddings", help="Feature store to append (same encoder).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Append a feature store to a datastore and save it as a new version (atomically)."""
    from vislang.represent.feature_store import FeatureStore
    from vislang.retrieval.datastore import Datastore

    start = time.perf_counter()
    store = Datastore.load(store_dir)
    store.add(FeatureStore.open(embeddings), show_progress=not as_json)
    store.save(store_dir)
    _emit_summary(store_dir, store, time.perf_counter() - start, as_json, "datastore extended")


@app.command("search")
def search(
    store_dir: Annotated[Path, typer.Argument(help="Datastore folder.", metavar="STORE")],
    text: Annotated[str | None, typer.Option("--text", help="Query text.")] = None,
    image: Annotated[Path | None, typer.Option("--image", help="Query image file.")] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Query encoder (default: the model the datastore names)."),
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Number of results.")] = 10,
    language: Annotated[
        str | None, typer.Option("--language", help="Only results in this language.")
    ] = None,
    exclude_image_id: Annotated[
        str | None,
        typer.Option("--exclude-image-id", help="Leave out results of this image_id."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search a datastore with a text or an image, embedded by the datastore's encoder."""
    if (text is None) == (image is None):
        raise typer.BadParameter("give exactly one of --text or --image")

    import torch

    from vislang.data.preprocess import load_preprocessed
    from vislang.retrieval.datastore import Datastore, search_images, search_texts

    store = Datastore.load(store_dir)
    encoder = _query_encoder(store, model)
    filters: dict[str, Any] = {"language": language}
    if exclude_image_id is not None:
        filters["exclude_image_ids"] = [exclude_image_id]
    if text is not None:
        [hits] = search_texts(store, encoder, [text], k, **filters)
    else:
        pixels = torch.from_numpy(load_preprocessed(image, encoder.preprocess))[None]
        [hits] = search_images(store, encoder, pixels, k, **filters)
    result = {
        "store": str(store_dir),
        "query": {"text": text} if text is not None else {"image": str(image)},
        "k": k,
        "hits": [h.to_dict() for h in hits],
    }

    def render() -> None:
        rows = [
            {
                "rank": rank,
                "score": hit.score,
                "id": hit.id,
                "image_id": hit.image_id or "",
                "language": hit.language or "",
                "text or image": hit.text if hit.text is not None else (hit.image or ""),
            }
            for rank, hit in enumerate(hits, start=1)
        ]
        console.stdout.print(console.rows_table(rows, title=f"{store_dir}: top {k}"))

    console.emit(result, as_json, render)


def _query_encoder(store: Any, model: str | None) -> Any:
    """The encoder for queries: ``--model`` or the store's own model, checked against the store."""
    from vislang.models.registry import load_model
    from vislang.retrieval.datastore import check_same_encoder

    reference = model or store.model
    if reference is None:
        raise ConfigError("the datastore does not name the model that embedded it; pass --model")
    encoder = load_model(reference)
    encoder.eval()
    where = f"datastore (query encoder from {'--model' if model else 'its manifest'}: {reference})"
    check_same_encoder(store.encoder, encoder.fingerprint(), where)
    return encoder


def _emit_summary(out: Path, store: Any, seconds: float, as_json: bool, title: str) -> None:
    result = {
        "store": str(out),
        "version": store.version,
        "count": store.count,
        "dim": store.dim,
        "modality": store.modality,
        "encoder": store.encoder,
        "index": store.manifest()["index"],
        "recall": {k: v for k, v in store.recall.items() if k != "tried"},
        "seconds": round(seconds, 3),
    }

    def render() -> None:
        flat = {k: v for k, v in result.items() if k not in ("encoder", "index", "recall")}
        flat["encoder"] = store.encoder.get("name")
        flat |= {f"index.{k}": v for k, v in result["index"].items()}
        flat |= {f"recall.{k}": v for k, v in result["recall"].items()}
        console.stdout.print(console.key_value_table(flat, title=title))

    console.emit(result, as_json, render)
