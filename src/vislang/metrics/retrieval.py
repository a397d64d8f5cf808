"""Image-text retrieval recall@k in both directions, with several captions per image.

What is computed (for ``N_i`` images and ``N_t`` texts, text ``t`` describing image
``text_to_image[t]``, similarity ``s(i, t)``):

* text -> image: the rank of a text's own image among all images ordered by ``s(., t)``;
  recall@k is the share of texts whose image is within the top k (over all ``N_t`` texts);
* image -> text: the best rank among the image's own captions of all texts ordered by ``s(i, .)``;
  recall@k is the share of images with *any* of their captions within the top k (over the images
  that have at least one caption). This is the protocol of CLIP and of the COCO 5k / Flickr30k 1k
  retrieval benchmarks.

Ties: a candidate that scores exactly as high as the correct one is ranked *above* it (a tie
never helps), so a constant similarity gives recall 0 rather than an ordering artefact.

Ranks are 0-based (rank 0 = retrieved first). From embeddings, similarities are inner products
(L2-normalise the embeddings first for cosine); they are computed in blocks of rows, so memory
stays at ``block_elements`` floats whatever ``N_i x N_t`` is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_KS = (1, 5, 10)
BLOCK_ELEMENTS = 1 << 24  # similarities held at once (64 MiB in float32)


@dataclass(frozen=True)
class RetrievalRanks:
    """0-based rank of the correct match for every text query and every image query.

    ``image_to_text[i]`` is -1 for an image without captions (it is left out of the recall).
    """

    text_to_image: np.ndarray  # (N_t,)
    image_to_text: np.ndarray  # (N_i,)

    def recall(self, k: int) -> dict[str, float]:
        """Recall@k in both directions, as fractions in [0, 1]."""
        with_captions = self.image_to_text >= 0
        return {
            "text_to_image": float(np.mean(self.text_to_image < k)),
            "image_to_text": float(np.mean(self.image_to_text[with_captions] < k)),
        }

    def recalls(self, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
        """``{"text_to_image@1": ..., "image_to_text@1": ..., ...}`` for every k."""
        out: dict[str, float] = {}
        for k in ks:
            for direction, value in self.recall(k).items():
                out[f"{direction}@{k}"] = value
        return out


def retrieval_ranks(
    image_embeddings: np.ndarray,
    text_embeddings: np.ndarray,
    text_to_image: Sequence[int] | np.ndarray,
    *,
    block_elements: int = BLOCK_ELEMENTS,
) -> RetrievalRanks:
    """Ranks of the correct matches from embeddings (inner-product similarity), in blocks."""
    images = np.asarray(image_embeddings, dtype=np.float32)
    texts = np.asarray(text_embeddings, dtype=np.float32)
    if images.ndim != 2 or texts.ndim != 2 or images.shape[1] != texts.shape[1]:
        raise ValueError(
            f"embeddings must be 2-d with one width, got {images.shape} and {texts.shape}"
        )
    owner = _check_owner(text_to_image, images.shape[0], texts.shape[0])

    def image_rows(start: int, stop: int) -> np.ndarray:
        return images[start:stop] @ texts.T

    def text_rows(start: int, stop: int) -> np.ndarray:
        return texts[start:stop] @ images.T

    return _ranks(image_rows, text_rows, images.shape[0], texts.shape[0], owner, block_elements)


def retrieval_ranks_from_similarity(
    similarity: np.ndarray, text_to_image: Sequence[int] | np.ndarray
) -> RetrievalRanks:
    """Ranks of the correct matches from a full (N_i, N_t) image-text similarity matrix."""
    matrix = np.asarray(similarity)
    if matrix.ndim != 2:
        raise ValueError(f"similarity must be (images, texts), got shape {matrix.shape}")
    n_images, n_texts = matrix.shape
    owner = _check_owner(text_to_image, n_images, n_texts)
    return _ranks(
        lambda start, stop: matrix[start:stop],
        lambda start, stop: matrix[:, start:stop].T,
        n_images,
        n_texts,
        owner,
        BLOCK_ELEMENTS,
    )


def _check_owner(
    text_to_image: Sequence[int] | np.ndarray, n_images: int, n_texts: int
) -> np.ndarray:
    owner = np.asarray(text_to_image, dtype=np.int64)
    if owner.shape != (n_texts,):
        raise ValueError(f"text_to_image needs one image index per text ({n_texts})")
    if n_texts and (owner.min() < 0 or owner.max() >= n_images):
        raise ValueError(f"text_to_image holds indices outside 0..{n_images - 1}")
    return owner


def _blocks(n_rows: int, n_columns: int, block_elements: int) -> Iterator[tuple[int, int]]:
    step = max(1, block_elements // max(n_columns, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def _ranks(image_rows, text_rows, n_images, n_texts, owner, block_elements) -> RetrievalRanks:
    # text -> image: images scoring at least as high as the text's own image, minus itself
    text_rank = np.empty(n_texts, dtype=np.int64)
    for start, stop in _blocks(n_texts, n_images, block_elements):
        block = text_rows(start, stop)
        rows = np.arange(stop - start)
        correct = block[rows, owner[start:stop]]
        text_rank[start:stop] = (block >= correct[:, None]).sum(axis=1) - 1

    # image -> text: other images' captions scoring at least as high as the image's best caption
    order = np.argsort(owner, kind="stable")  # captions grouped by image
    counts = np.bincount(owner, minlength=n_images)
    first = np.cumsum(counts) - counts
    image_rank = np.full(n_images, -1, dtype=np.int64)
    for start, stop in _blocks(n_images, n_texts, block_elements):
        block = image_rows(start, stop)
        block_counts = counts[start:stop]
        has = block_counts > 0
        if not has.any():
            continue
        rows = np.repeat(np.arange(stop - start), block_counts)
        offsets = np.cumsum(block_counts) - block_counts
        position = np.arange(rows.size) - offsets[rows] + first[start:stop][rows]
        own = block[rows, order[position]]
        best = np.full(stop - start, np.inf, dtype=np.float64)
        best[has] = np.maximum.reduceat(own, offsets[has])
        at_least = (block >= best[:, None].astype(block.dtype)).sum(axis=1)
        own_at_least = np.bincount(
            rows, weights=own >= best[rows].astype(own.dtype), minlength=stop - start
        )
        image_rank[start:stop][has] = (at_least - own_at_least.astype(np.int64))[has]
    return RetrievalRanks(text_to_image=text_rank, image_to_text=image_rank)
