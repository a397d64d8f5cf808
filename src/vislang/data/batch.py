"""Decode and preprocess many images in a thread pool; bad files are reported, never fatal.

:func:`load_batch` turns a list of sources into one tensor of the good images plus the list of
failures. :func:`iter_batches` walks a long list batch by batch, decoding the next batches in the
background while the caller works on the current one (e.g. an encoder's forward pass).

Pillow's decoders and PyTorch's resampling release the GIL, so threads give real parallelism here.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from vislang.data.images import DEFAULT_MAX_PIXELS, ImageSource
from vislang.data.preprocess import DEFAULT_CONFIG, PreprocessConfig, load_preprocessed
from vislang.errors import ImageDecodeError


@dataclass
class ImageBatch:
    """The good images of a batch and what went wrong with the others.

    ``pixels`` is float32 (N_good, 3, crop, crop); ``indices[i]`` is the position, in the sources
    given, of ``pixels[i]``; ``failures`` lists (source, reason) for every image left out, in
    source order. A source that is not a path is named ``<bytes>[i]`` or ``<PIL image>[i]``.
    """

    pixels: torch.Tensor
    indices: list[int]
    failures: list[tuple[str, str]]


def load_batch(
    sources: Iterable[ImageSource],
    config: PreprocessConfig = DEFAULT_CONFIG,
    *,
    threads: int = 2,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> ImageBatch:
    """Decode and preprocess ``sources`` with ``threads`` worker threads into one batch."""
    _check_positive(threads=threads)
    sources = list(sources)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vislang-images") as pool:
        return _PendingBatch(pool, sources, 0, config, max_pixels).result()


def iter_batches(
    sources: Iterable[ImageSource],
    config: PreprocessConfig = DEFAULT_CONFIG,
    *,
    batch_size: int = 32,
    threads: int = 2,
    prefetch: int = 2,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[ImageBatch]:
    """Yield batches of ``batch_size`` images (the last may be smaller), in order.

    While the caller holds one batch, the next ``prefetch`` batches are being decoded by
    ``threads`` worker threads. ``indices`` are positions in the whole ``sources`` sequence, which
    may be any iterable (it is read lazily, ``batch_size × (prefetch + 1)`` items ahead at most).
    The thread pool lives as long as the iteration: it is shut down when the iterator is exhausted
    or closed (``break`` out of a ``for`` loop closes it, as does ``contextlib.closing``).
    """
    _check_positive(batch_size=batch_size, threads=threads)
    if prefetch < 0:
        raise ValueError(f"prefetch must be >= 0, got {prefetch}")
    return _prefetching_batches(sources, config, batch_size, threads, prefetch, max_pixels)


def _prefetching_batches(
    sources: Iterable[ImageSource],
    config: PreprocessConfig,
    batch_size: int,
    threads: int,
    prefetch: int,
    max_pixels: int | None,
) -> Iterator[ImageBatch]:
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vislang-images")
    pending: deque[_PendingBatch] = deque()
    try:
        for start, chunk in _chunks(sources, batch_size):
            pending.append(_PendingBatch(pool, chunk, start, config, max_pixels))
            if len(pending) > prefetch:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _PendingBatch:
    """One batch submitted to the pool: every image is written into its slot of one tensor."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        sources: Sequence[ImageSource],
        start: int,
        config: PreprocessConfig,
        max_pixels: int | None,
    ) -> None:
        self.sources = sources
        self.start = start
        self.pixels = torch.empty((len(sources), 3, config.crop, config.crop), dtype=torch.float32)
        slots = self.pixels.numpy()
        self.futures: list[Future[str | None]] = [
            pool.submit(_load_into, source, config, max_pixels, slots[i])
            for i, source in enumerate(sources)
        ]

    def result(self) -> ImageBatch:
        """Wait for every image of the batch and assemble it."""
        good: list[int] = []
        failures: list[tuple[str, str]] = []
        for i, future in enumerate(self.futures):
            reason = future.result()
            if reason is None:
                good.append(i)
            else:
                failures.append((_name(self.sources[i], self.start + i), reason))
        pixels = self.pixels if len(good) == len(self.sources) else self.pixels[good]
        return ImageBatch(pixels, [self.start + i for i in good], failures)


def _load_into(
    source: ImageSource, config: PreprocessConfig, max_pixels: int | None, slot: np.ndarray
) -> str | None:
    """Preprocess one image into ``slot``; the reason it failed, or None."""
    try:
        load_preprocessed(source, config, max_pixels=max_pixels, out=slot)
    except ImageDecodeError as error:
        return error.reason
    return None


def _name(source: ImageSource, index: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    kind = "<bytes>" if isinstance(source, (bytes, bytearray)) else "<PIL image>"
    return f"{kind}[{index}]"


def _chunks(sources: Iterable[ImageSource], size: int) -> Iterator[tuple[int, list[ImageSource]]]:
    iterator = iter(sources)
    start = 0
    while chunk := list(itertools.islice(iterator, size)):
        yield start, chunk
        start += len(chunk)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
