"""Caption data for contrastive training, held in memory: decoded pixels and token ids.

A tiny dual encoder computes so little per 64×64 image that decoding image files at every step
would cost more than the step itself. So the images are decoded and preprocessed once, by the
model's own pipeline (:mod:`vislang.data.batch`, threads, bad files reported), into one uint8
tensor (12 KB per 64×64 image, a quarter of float32) that is normalised batch by batch; every
caption is tokenised once by the model's tokenizer.

The unit of training is the image: a batch draws distinct images (the same image twice in a batch
would be a false negative for the contrastive loss) and one caption of each, in any of the
chosen languages. Batches of token ids are padded as the model's ``tokenize`` pads them: to the
batch's longest caption for CLIP (with an attention mask; CLIP pools its first end-of-text token,
so padding never changes an embedding), to ``text_max_length`` for SigLIP (no mask; SigLIP pools
the last position, so the padding is part of what it learned).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vislang.console import progress
from vislang.data.batch import iter_batches
from vislang.data.images import ImageSource
from vislang.data.preprocess import PreprocessConfig
from vislang.data.schema import CaptionExample
from vislang.models.dual_encoder import DualEncoder

_TOKENIZE_CHUNK = 4096


@dataclass(frozen=True)
class ImageCaptions:
    """One image and all its captions, each with its language."""

    image_id: str
    image: ImageSource
    captions: tuple[tuple[str, str], ...]  # (text, language)


def group_by_image(
    records: Iterable[CaptionExample], image_of: dict[str, ImageSource] | None = None
) -> list[ImageCaptions]:
    """Caption records grouped by ``image_id`` in first-seen order (one item per image, with the
    captions of every language). ``image_of`` gives images by ``image_id`` for records whose
    image is not a file (a world generated in memory); otherwise ``record.image`` is used."""
    images: dict[str, ImageSource] = {}
    captions: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        if record.image_id not in images:
            source = image_of[record.image_id] if image_of is not None else record.image
            if source is None:
                continue
            images[record.image_id] = source
            captions[record.image_id] = []
        captions[record.image_id] += [(text, record.language) for text in record.captions]
    return [ImageCaptions(key, images[key], tuple(captions[key])) for key in images]


class CaptionPairs:
    """Images decoded once into uint8, captions tokenised once; batches on demand.

    Images that cannot be decoded are dropped with their captions and listed in
    :attr:`failures`; :attr:`truncated` counts captions longer than the model's text positions.
    """

    def __init__(
        self,
        items: Sequence[ImageCaptions],
        model: DualEncoder,
        *,
        threads: int = 2,
        show_progress: bool = True,
        description: str = "decoding images",
    ) -> None:
        self.preprocess = model.preprocess
        self.pad_token_id = model.config.pad_token_id
        self.fixed_length = model.config.text_max_length if model.pad_to_max_length else None
        self.with_mask = model.uses_attention_mask
        self.pad_left = model.config.text_padding_side == "left"
        decoded = decode_uint8(
            [item.image for item in items],
            model.preprocess,
            threads=threads,
            show_progress=show_progress,
            description=description,
        )
        self.pixels_uint8, self.failures = decoded.pixels, decoded.failures
        self.items = [items[i] for i in decoded.kept]
        texts = [text for item in self.items for text, _ in item.captions]
        self.tokens, self.truncated = _tokenize(texts, model)
        counts = np.asarray([len(item.captions) for item in self.items], dtype=np.int64)
        self.caption_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.caption_count = counts

    def __len__(self) -> int:
        return len(self.items)

    def pixels(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Normalised float32 pixels (B, 3, H, W) of the images at ``indices``."""
        chosen = self.pixels_uint8[torch.as_tensor(np.asarray(indices), dtype=torch.long)]
        return normalise(chosen, self.preprocess)

    def caption_index(self, image: int, choice: int) -> int:
        """The position among all captions of image ``image``'s ``choice``-th caption."""
        return int(self.caption_start[image] + choice % self.caption_count[image])

    def token_batch(self, captions: Sequence[int]) -> dict[str, torch.Tensor]:
        """Token ids of the captions at ``captions``, padded as the model pads them (with an
        ``attention_mask`` for models that take one)."""
        return self.pad([self.tokens[i] for i in captions])

    def pad(self, rows: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """Token rows padded as the model pads them: the model's text input."""
        return pad_token_rows(
            rows, self.pad_token_id, self.fixed_length, self.with_mask, left=self.pad_left
        )


def pad_token_rows(
    rows: Sequence[np.ndarray],
    pad_token_id: int,
    fixed_length: int | None,
    with_mask: bool,
    *,
    left: bool = False,
) -> dict[str, torch.Tensor]:
    """Token rows padded to ``fixed_length`` (or the longest row) with ``pad_token_id`` on the
    right (or the ``left``), with an ``attention_mask`` when ``with_mask``."""
    width = fixed_length or max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        input_ids[i, span] = torch.from_numpy(row)
        mask[i, span] = 1
    return (
        {"input_ids": input_ids, "attention_mask": mask} if with_mask else {"input_ids": input_ids}
    )


@dataclass
class DecodedImages:
    """Images decoded and preprocessed into uint8 levels (before normalisation)."""

    pixels: torch.Tensor  # uint8 (len(kept), 3, crop, crop)
    kept: list[int]  # positions of the decoded images among the sources
    failures: list[tuple[str, str]]  # (source, reason) of the others


def decode_uint8(
    sources: Sequence[ImageSource],
    preprocess: PreprocessConfig,
    *,
    threads: int = 2,
    show_progress: bool = False,
    description: str = "decoding images",
) -> DecodedImages:
    """Decode, resize and crop ``sources`` with vislang's image pipeline, keeping 8-bit levels.

    The pipeline returns normalised float32 values, each a function of one 8-bit level
    (``(level / 255 - mean) / std``), so ``round((value * std + mean) * 255)`` recovers the
    level exactly; :func:`normalise` gives the pipeline's values back."""
    size = preprocess.crop
    pixels = torch.empty((len(sources), 3, size, size), dtype=torch.uint8)
    mean, std = _channel_constants(preprocess)
    kept: list[int] = []
    failures: list[tuple[str, str]] = []
    batches = iter_batches(sources, preprocess, batch_size=256, threads=threads)
    with progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task(description, total=len(sources))
        for batch in batches:
            if batch.indices:
                levels = ((batch.pixels * std + mean) * 255.0).round_().clamp_(0, 255)
                pixels[batch.indices] = levels.to(torch.uint8)
            kept += batch.indices
            failures += batch.failures
            bar.advance(task, len(batch.indices) + len(batch.failures))
    return DecodedImages(pixels[kept] if len(kept) != len(sources) else pixels, kept, failures)


def normalise(pixels: torch.Tensor, preprocess: PreprocessConfig) -> torch.Tensor:
    """uint8 levels (B, 3, H, W) → the normalised float32 pixels an encoder takes."""
    mean, std = _channel_constants(preprocess)
    return (pixels.float() / 255.0 - mean) / std


def _channel_constants(preprocess: PreprocessConfig) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(preprocess.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preprocess.std, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def _tokenize(texts: Sequence[str], model: DualEncoder) -> tuple[list[np.ndarray], int]:
    """Each text's token ids as the model's ``tokenize`` makes them, without padding, and how
    many texts were cut at ``text_max_length``.

    A text longer than the limit keeps its first ``limit - 1`` ids and its last one (the
    end-of-text token the tokenizer appends), which is how ``transformers`` truncates."""
    limit = min(model.tokenizer.model_max_length, model.config.text_max_length)
    tokens: list[np.ndarray] = []
    truncated = 0
    for start in range(0, len(texts), _TOKENIZE_CHUNK):
        chunk = list(texts[start : start + _TOKENIZE_CHUNK])
        if model.config.tokenizer == "bytes":
            chunk = [unicodedata.normalize("NFC", text) for text in chunk]
        for ids in model.tokenizer(chunk, truncation=False, verbose=False)["input_ids"]:
            if len(ids) > limit:
                truncated += 1
                ids = ids[: limit - 1] + ids[-1:]
            tokens.append(np.asarray(ids, dtype=np.int64))
    return tokens, truncated
