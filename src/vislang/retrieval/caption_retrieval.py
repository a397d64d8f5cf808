"""Retrieving captions for an image: search, filter per caption, keep K, scores kept aligned.

The datastore (:class:`vislang.retrieval.datastore.Datastore`) holds caption texts embedded with
a dual encoder's text tower; a query is the image embedding of the same dual encoder. For each
image (SmallCap, PAELLA, LMCap):

1. search the ``search_k`` (15) nearest captions, leaving out the query image's own captions
   (by image id, inside the datastore's search, which fetches more until ``search_k`` remain)
   and, for target-language retrieval, captions in other languages;
2. walk the hits best first and drop exact duplicates of a caption already kept, and captions
   longer than ``max_caption_tokens`` — each caption judged on its own length;
3. keep the first ``keep`` (K = 4).

A kept caption carries its own hit's score, image id and row: filtering never shifts scores
onto other captions (a known bug of public code that indexes scores with a counter that skips
filtered items). ``language`` is ``"target"`` (the caption language asked for), ``"any"`` or a
fixed code (cross-lingual retrieval, e.g. English captions for a Swahili caption).

:func:`build_caption_datastore` makes a datastore from caption rows in memory (texts that occur
several times are embedded once); ``vislang embed --texts`` and ``vislang index build`` make the
same from files.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import pyarrow as pa
import torch

from vislang.console import progress
from vislang.errors import ConfigError
from vislang.represent.encoder import ImageTextEncoder
from vislang.represent.feature_store import FeatureRow, metadata_table
from vislang.retrieval.datastore import Datastore, SearchHit, check_same_encoder
from vislang.retrieval.index import IndexSpec, tune_and_measure

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class RetrievalConfig:
    """How captions are retrieved for one image (see the module docstring)."""

    search_k: int = 15
    keep: int = 4
    max_caption_tokens: int | None = 25
    drop_duplicates: bool = True
    language: str = "target"

    def __post_init__(self) -> None:
        if self.keep < 0 or self.search_k < 1:
            raise ConfigError(
                f"retrieval: keep must be >= 0 and search_k >= 1 (got {self.keep}, {self.search_k})"
            )
        if self.keep > self.search_k:
            raise ConfigError(
                f"retrieval: cannot keep {self.keep} of {self.search_k} searched captions"
            )
        if self.max_caption_tokens is not None and self.max_caption_tokens < 1:
            raise ConfigError("retrieval.max_caption_tokens: must be >= 1 (or absent: no limit)")
        if not self.language:
            raise ConfigError("retrieval.language: 'target', 'any' or a language code")

    def datastore_language(self, target: str | None) -> str | None:
        """Which language to search for a caption in ``target`` (``None``: every language)."""
        if self.language == "any":
            return None
        if self.language == "target":
            return target
        return self.language


@dataclass(frozen=True)
class RetrievedCaptions:
    """The captions kept for one image, best first, each with its own search score, image id
    and datastore row; ``searched`` hits came back and ``dropped`` says why the others went."""

    captions: tuple[str, ...]
    scores: tuple[float, ...]
    image_ids: tuple[str | None, ...]
    rows: tuple[int, ...]
    language: str | None
    searched: int
    dropped: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the kept captions with scores, and the counts."""
        return {
            "language": self.language,
            "captions": [
                {"text": text, "score": score, "image_id": image_id, "row": row}
                for text, score, image_id, row in zip(
                    self.captions, self.scores, self.image_ids, self.rows, strict=True
                )
            ],
            "searched": self.searched,
            "dropped": dict(self.dropped),
        }


def select_captions(
    hits: Sequence[SearchHit],
    config: RetrievalConfig,
    *,
    exclude_image_id: str | None = None,
    count_tokens: TokenCounter | None = None,
    language: str | None = None,
) -> RetrievedCaptions:
    """Filter one query's hits (best first) caption by caption and keep ``config.keep``.

    Drops hits of ``exclude_image_id`` (the datastore's search already leaves them out; this
    makes the selection safe on any hit list), exact duplicates of a kept caption (compared
    after stripping surrounding space), and captions with more than ``max_caption_tokens``
    tokens by ``count_tokens`` (required when that limit is set).
    """
    if config.max_caption_tokens is not None and count_tokens is None:
        raise ConfigError("retrieval: max_caption_tokens is set but no token counter was given")
    dropped = {"same_image": 0, "duplicate": 0, "too_long": 0, "empty": 0}
    kept: list[SearchHit] = []
    seen: set[str] = set()
    for hit in hits:
        if len(kept) == config.keep:
            break
        text = (hit.text or "").strip()
        if exclude_image_id is not None and hit.image_id == exclude_image_id:
            dropped["same_image"] += 1
        elif not text:
            dropped["empty"] += 1
        elif config.drop_duplicates and text in seen:
            dropped["duplicate"] += 1
        elif config.max_caption_tokens is not None and (
            count_tokens(text) > config.max_caption_tokens  # type: ignore[misc]
        ):
            dropped["too_long"] += 1
        else:
            kept.append(hit)
            seen.add(text)
    return RetrievedCaptions(
        captions=tuple((hit.text or "").strip() for hit in kept),
        scores=tuple(float(hit.score) for hit in kept),
        image_ids=tuple(hit.image_id for hit in kept),
        rows=tuple(int(hit.row) for hit in kept),
        language=language,
        searched=len(hits),
        dropped=dropped,
    )


class CaptionRetriever:
    """Retrieves K captions per image from a caption datastore with the datastore's encoder."""

    def __init__(
        self,
        store: Datastore,
        encoder: ImageTextEncoder,
        config: RetrievalConfig,
        count_tokens: TokenCounter | None = None,
    ) -> None:
        if store.modality != "text":
            raise ConfigError(f"a caption datastore holds text embeddings, not {store.modality}")
        self.fingerprint = encoder.fingerprint()
        check_same_encoder(store.encoder, self.fingerprint, "caption datastore")
        self.store = store
        self.encoder = encoder
        self.config = config
        self.count_tokens = count_tokens
        self._views: dict[str, Datastore] = {}

    @torch.no_grad()
    def embed_images(self, pixels: torch.Tensor) -> np.ndarray:
        """(B, 3, H, W) preprocessed pixels → (B, dim) query embeddings."""
        return self.encoder.encode_images(pixels).float().cpu().numpy()

    def retrieve(
        self,
        queries: np.ndarray,
        languages: Sequence[str | None],
        exclude_image_ids: Sequence[str | None] | None = None,
        *,
        batch_size: int = 1024,
        show_progress: bool = False,
    ) -> list[RetrievedCaptions]:
        """For query ``i`` (an image embedding), the captions kept for a caption in
        ``languages[i]``, leaving out captions of ``exclude_image_ids[i]``."""
        queries = np.asarray(queries, dtype=np.float32)
        if len(languages) != len(queries):
            raise ConfigError(f"{len(languages)} languages for {len(queries)} queries")
        excluded = (
            list(exclude_image_ids) if exclude_image_ids is not None else [None] * len(queries)
        )
        if len(excluded) != len(queries):
            raise ConfigError(f"{len(excluded)} excluded image ids for {len(queries)} queries")
        if self.config.keep == 0:
            return [
                RetrievedCaptions((), (), (), (), self.config.datastore_language(lang), 0, {})
                for lang in languages
            ]
        groups: dict[str | None, list[int]] = {}
        for i, target in enumerate(languages):
            groups.setdefault(self.config.datastore_language(target), []).append(i)
        found: dict[int, RetrievedCaptions] = {}
        with progress(transient=True, disable=not show_progress) as bar:
            task = bar.add_task("retrieving captions", total=len(queries))
            for language, members in groups.items():
                for start in range(0, len(members), batch_size):
                    chunk = members[start : start + batch_size]
                    hits = self._search(language, queries[chunk], [excluded[i] for i in chunk])
                    for i, query_hits in zip(chunk, hits, strict=True):
                        found[i] = select_captions(
                            query_hits,
                            self.config,
                            exclude_image_id=excluded[i],
                            count_tokens=self.count_tokens,
                            language=language,
                        )
                    bar.advance(task, len(chunk))
        return [found[i] for i in range(len(queries))]

    def _search(
        self, language: str | None, queries: np.ndarray, excluded: list[str | None]
    ) -> list[list[SearchHit]]:
        """The datastore's search, in the language's view when there is one."""
        view = self._view(language)
        return view.search(
            queries,
            self.config.search_k,
            fingerprint=self.fingerprint,
            exclude_image_ids=excluded,
            language=None if view is not self.store else language,
        )

    def _view(self, language: str | None) -> Datastore:
        """An exact datastore of one language's rows (hits keep their rows in the whole
        datastore), built once: a filtered search of a flat index would scan every language.
        Approximate indexes are searched with the language filter instead."""
        if language is None or not isinstance(self.store.index, faiss.IndexFlat):
            return self.store
        if language not in self._views:
            self._views[language] = language_view(self.store, language)
        return self._views[language]


def language_view(store: Datastore, language: str) -> Datastore:
    """The rows of ``language`` of a flat datastore as a datastore of their own, held in memory;
    its metadata keeps each row's number in ``store``."""
    languages = np.asarray(store.metadata.column("language").to_pylist(), dtype=object)
    rows = np.flatnonzero(languages == language)
    index = faiss.IndexFlatIP(store.dim)
    if len(rows):
        index.add(store.index.reconstruct_batch(rows.astype(np.int64)))
    return Datastore(
        index,
        store.metadata.take(pa.array(rows)),
        encoder=store.encoder,
        modality=store.modality,
        model=store.model,
        spec=store.spec,
        recall=store.recall,
        inputs=store.inputs,
    )


def build_caption_datastore(
    encoder: ImageTextEncoder,
    rows: Sequence[FeatureRow],
    *,
    model: str | None = None,
    batch_size: int = 256,
    show_progress: bool = False,
) -> Datastore:
    """An exact (flat) caption datastore over ``rows`` (their ``text``), held in memory; save it
    with :meth:`Datastore.save`. ``model`` is the encoder's reference, recorded for queries."""
    if not rows:
        raise ConfigError("no captions to put into a datastore")
    empty = [row.id for row in rows if not (row.text and row.text.strip())]
    if empty:
        raise ConfigError(f"{len(empty)} captions are empty, e.g. {empty[:3]}")
    unique: dict[str, int] = {}
    positions = np.asarray([unique.setdefault(row.text or "", len(unique)) for row in rows])
    texts = list(unique)
    by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
    vectors = np.zeros((len(texts), encoder.embed_dim), dtype=np.float32)
    with progress(transient=True, disable=not show_progress) as bar, torch.inference_mode():
        task = bar.add_task("embedding captions", total=len(texts))
        for start in range(0, len(texts), batch_size):
            chunk = by_length[start : start + batch_size]
            embedded = encoder.encode_texts([texts[i] for i in chunk]).float().cpu().numpy()
            vectors[chunk] = embedded
            bar.advance(task, len(chunk))
    embeddings = np.ascontiguousarray(vectors[positions])
    faiss.normalize_L2(embeddings)
    spec = IndexSpec(kind="flat")
    index = faiss.IndexFlatIP(embeddings.shape[1])
    index.add(embeddings)
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return Datastore(
        index,
        metadata_table(rows),
        encoder=encoder.fingerprint(),
        modality="text",
        model=model,
        spec=spec,
        recall=tune_and_measure(index, spec),
        inputs=[{"embeddings": "in memory", "count": len(rows), "created": created}],
    )


__all__ = [
    "CaptionRetriever",
    "RetrievalConfig",
    "RetrievedCaptions",
    "build_caption_datastore",
    "select_captions",
]
