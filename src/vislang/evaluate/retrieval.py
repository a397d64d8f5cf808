"""Image–text retrieval with a dual encoder: recall@k in both directions, per language.

The evaluation set is a :class:`CaptionGallery`: distinct images and every caption of them, each
caption tagged with its language (caption records of any reader; the synthetic world has one
record per scene and language, sharing the scene's ``image_id``). For each language L:

* text → image: every caption in L queries **all** images of the gallery; a hit is the caption's
  own image within the top k;
* image → text: every image that has a caption in L queries the captions in L; a hit is any of its
  own captions within the top k.

This is the strict protocol of :mod:`vislang.metrics.retrieval` (a tie with a wrong candidate
counts against the query): another image with an identical caption is a miss, however right it
looks. Languages are scored separately, over the same images, so their numbers are comparable;
the mean over languages is reported beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vislang.console import progress
from vislang.data.batch import iter_batches
from vislang.data.images import ImageSource
from vislang.data.schema import CaptionExample
from vislang.errors import ConfigError
from vislang.metrics.retrieval import DEFAULT_KS, retrieval_ranks
from vislang.represent.encoder import ImageEncoder, ImageTextEncoder

DIRECTIONS = ("text_to_image", "image_to_text")


@dataclass(frozen=True)
class CaptionGallery:
    """Images and their captions: ``text_image[t]`` is the index of caption ``t``'s image."""

    image_ids: tuple[str, ...]
    images: tuple[ImageSource, ...]
    texts: tuple[str, ...]
    text_image: np.ndarray
    text_languages: tuple[str, ...]

    @classmethod
    def from_records(
        cls, records: Iterable[CaptionExample], *, max_images: int | None = None
    ) -> CaptionGallery:
        """Group caption records by ``image_id`` (first-seen order); keep the first
        ``max_images`` images. Records without an image are refused."""
        images: dict[str, ImageSource] = {}
        captions: dict[str, list[tuple[str, str]]] = {}
        for record in records:
            if record.image is None:
                raise ConfigError(f"caption record {record.id!r} has no image to retrieve")
            if record.image_id not in images:
                if max_images is not None and len(images) >= max_images:
                    continue
                images[record.image_id] = record.image
                captions[record.image_id] = []
            captions[record.image_id] += [(text, record.language) for text in record.captions]
        image_ids = tuple(images)
        pairs = [(i, text, lang) for i, key in enumerate(image_ids) for text, lang in captions[key]]
        return cls(
            image_ids=image_ids,
            images=tuple(images[key] for key in image_ids),
            texts=tuple(text for _, text, _ in pairs),
            text_image=np.asarray([i for i, _, _ in pairs], dtype=np.int64),
            text_languages=tuple(lang for _, _, lang in pairs),
        )

    def __len__(self) -> int:
        return len(self.images)

    def languages(self) -> list[str]:
        """The languages of the captions, sorted."""
        return sorted(set(self.text_languages))

    def without_images(self, dropped: Iterable[int]) -> CaptionGallery:
        """The gallery without the images at positions ``dropped`` and their captions."""
        gone = set(dropped)
        if not gone:
            return self
        keep = [i for i in range(len(self.images)) if i not in gone]
        new_index = {old: new for new, old in enumerate(keep)}
        texts = [t for t, owner in enumerate(self.text_image) if int(owner) in new_index]
        return CaptionGallery(
            image_ids=tuple(self.image_ids[i] for i in keep),
            images=tuple(self.images[i] for i in keep),
            texts=tuple(self.texts[t] for t in texts),
            text_image=np.asarray([new_index[int(self.text_image[t])] for t in texts], np.int64),
            text_languages=tuple(self.text_languages[t] for t in texts),
        )


@dataclass
class ImageEmbeddings:
    """Embeddings of the images that could be decoded, and why the others could not."""

    embeddings: np.ndarray  # (len(indices), dim), L2-normalised
    indices: list[int]  # positions of the embedded images among the sources
    failures: list[tuple[str, str]]  # (source, reason) of every image left out


def embed_images(
    encoder: ImageEncoder,
    sources: Sequence[ImageSource],
    *,
    batch_size: int = 64,
    threads: int = 2,
    show_progress: bool = False,
) -> ImageEmbeddings:
    """Decode and preprocess ``sources`` in threads (with the encoder's preprocessing) and embed
    them; undecodable images are skipped and listed."""
    parts: list[np.ndarray] = []
    indices: list[int] = []
    failures: list[tuple[str, str]] = []
    batches = iter_batches(sources, encoder.preprocess, batch_size=batch_size, threads=threads)
    with progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("embedding images", total=len(sources))
        for batch in batches:
            if batch.indices:
                parts.append(embed_pixels(encoder, batch.pixels, batch_size=batch_size))
            indices += batch.indices
            failures += batch.failures
            bar.advance(task, len(batch.indices) + len(batch.failures))
    return ImageEmbeddings(_stack(parts, encoder.embed_dim), indices, failures)


def embed_pixels(
    encoder: ImageEncoder, pixels: torch.Tensor, *, batch_size: int = 256
) -> np.ndarray:
    """Embeddings (float32, L2-normalised) of preprocessed pixels (N, 3, H, W), in batches."""
    parts = []
    with torch.inference_mode():
        for start in range(0, pixels.shape[0], batch_size):
            parts.append(encoder.encode_images(pixels[start : start + batch_size]).float().cpu())
    return _stack([p.numpy() for p in parts], encoder.embed_dim)


def embed_texts(
    encoder: ImageTextEncoder, texts: Sequence[str], *, batch_size: int = 256
) -> np.ndarray:
    """Embeddings (float32, L2-normalised) of ``texts``, in batches."""
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            parts.append(encoder.encode_texts(chunk).float().cpu().numpy())
    return _stack(parts, encoder.embed_dim)


def recall_by_language(
    image_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    gallery: CaptionGallery,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, float]]:
    """Per language: ``text_to_image@k`` and ``image_to_text@k`` for each k, with the number of
    image and text queries (``images``, ``texts``). Embeddings are row-aligned with the gallery's
    images and texts."""
    if image_embeddings.shape[0] != len(gallery.images):
        raise ValueError(f"{image_embeddings.shape[0]} image embeddings for {len(gallery)} images")
    if text_embeddings.shape[0] != len(gallery.texts):
        raise ValueError(
            f"{text_embeddings.shape[0]} text embeddings for {len(gallery.texts)} texts"
        )
    languages = np.asarray(gallery.text_languages)
    results: dict[str, dict[str, float]] = {}
    for language in gallery.languages():
        rows = np.flatnonzero(languages == language)
        ranks = retrieval_ranks(image_embeddings, text_embeddings[rows], gallery.text_image[rows])
        scores: dict[str, float] = dict(ranks.recalls(ks))
        scores["images"] = int((ranks.image_to_text >= 0).sum())
        scores["texts"] = len(rows)
        results[language] = scores
    return results


def identical_caption_bounds(
    gallery: CaptionGallery, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Per language, the highest recall@k any model can expect when identical caption texts
    belong to several images (strict protocol, ties broken at random).

    Text → image: a caption whose exact text describes ``n`` gallery images cannot tell them
    apart, so its best expected recall@k is ``min(1, k / n)``; the bound is the mean over
    captions. Image → text: an image can be a hit only if one of its caption texts is shared by
    fewer than ``k`` captions of other images. Generic captions ("There are two objects.")
    make these bounds fall well below 1; no model can exceed them.
    """
    bounds: dict[str, dict[str, float]] = {}
    languages = np.asarray(gallery.text_languages)
    for language in gallery.languages():
        rows = np.flatnonzero(languages == language)
        texts = [gallery.texts[t] for t in rows]
        owners = gallery.text_image[rows]
        images_with: dict[str, set[int]] = {}
        captions_with: dict[str, int] = {}
        for text, owner in zip(texts, owners, strict=True):
            images_with.setdefault(text, set()).add(int(owner))
            captions_with[text] = captions_with.get(text, 0) + 1
        own: dict[int, list[str]] = {}
        for text, owner in zip(texts, owners, strict=True):
            own.setdefault(int(owner), []).append(text)
        scores: dict[str, float] = {}
        for k in ks:
            scores[f"text_to_image@{k}"] = float(
                np.mean([min(1.0, k / len(images_with[text])) for text in texts])
            )
            scores[f"image_to_text@{k}"] = float(
                np.mean(
                    [
                        min(captions_with[t] - mine.count(t) for t in mine) < k
                        for mine in own.values()
                    ]
                )
            )
        bounds[language] = scores
    return bounds


@dataclass
class RetrievalReport:
    """Recall@k per language over one gallery, the best recall identical captions allow
    (:func:`identical_caption_bounds`), and the images that could not be used."""

    images: int
    texts: int
    ks: tuple[int, ...]
    languages: dict[str, dict[str, float]]
    bounds: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        """Each recall averaged over the languages."""
        return mean_over_languages(self.languages, self.ks)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "images": self.images,
            "texts": self.texts,
            "languages": self.languages,
            "mean": self.mean(),
            "identical_caption_bounds": self.bounds,
            "failed_images": [{"source": s, "reason": r} for s, r in self.failures],
        }


def evaluate_retrieval(
    encoder: ImageTextEncoder,
    records: Iterable[CaptionExample],
    *,
    max_images: int | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 64,
    threads: int = 2,
    show_progress: bool = False,
) -> RetrievalReport:
    """Embed the gallery of ``records`` (at most ``max_images`` images) and score retrieval per
    language. Images that cannot be decoded are left out with their captions, and listed."""
    gallery = CaptionGallery.from_records(records, max_images=max_images)
    if not gallery.texts:
        raise ConfigError("no captions to evaluate retrieval on")
    embedded = embed_images(
        encoder, gallery.images, batch_size=batch_size, threads=threads, show_progress=show_progress
    )
    missing = set(range(len(gallery))) - set(embedded.indices)
    gallery = gallery.without_images(missing)
    if not gallery.texts:
        raise ConfigError("none of the gallery's images could be decoded")
    texts = embed_texts(encoder, gallery.texts, batch_size=max(batch_size, 256))
    languages = recall_by_language(embedded.embeddings, texts, gallery, ks)
    return RetrievalReport(
        images=len(gallery),
        texts=len(gallery.texts),
        ks=tuple(ks),
        languages=languages,
        bounds=identical_caption_bounds(gallery, ks),
        failures=embedded.failures,
    )


def mean_over_languages(
    languages: Mapping[str, Mapping[str, float]], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Each ``direction@k`` recall of :func:`recall_by_language` averaged over the languages."""
    if not languages:
        return {}
    keys = [f"{direction}@{k}" for k in ks for direction in DIRECTIONS]
    return {key: float(np.mean([scores[key] for scores in languages.values()])) for key in keys}


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    if not parts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)
