"""Batch loading: good images stacked in order, bad ones reported exactly, threads cleaned up."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.data.batch import ImageBatch, iter_batches, load_batch
from vislang.data.preprocess import CLIP_MEAN, CLIP_STD, PreprocessConfig, load_preprocessed
from vislang.errors import ConfigError

SMALL = PreprocessConfig(resize=16, crop=16)


def grey_level_of(pixels: torch.Tensor) -> int:
    """Undo the normalisation of a solid grey picture's first channel: its 8-bit level."""
    value = float(pixels[0].mean()) * CLIP_STD[0] + CLIP_MEAN[0]
    return round(value * 255)


def grey_png(path: Path, level: int) -> Path:
    Image.new("L", (24, 20), level).save(path)
    return path


def truncated_jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")
    return buffer.getvalue()[:300]


class WatchedPath(os.PathLike):
    """A path that records when a worker first looks at it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.touched = threading.Event()

    def __fspath__(self) -> str:
        self.touched.set()
        return str(self.path)


def test_mixed_good_and_bad_sources_give_exact_indices_and_failures(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "readme.jpg"
    text.write_text("not a picture")
    missing = tmp_path / "missing.png"
    sources = [
        grey_png(tmp_path / "a.png", 40),
        empty,
        grey_png(tmp_path / "b.png", 90),
        str(text),
        missing,
        Image.new("RGB", (30, 30), (200, 200, 200)),
        truncated_jpeg_bytes(),
        grey_png(tmp_path / "c.png", 250).read_bytes(),
    ]

    batch = load_batch(sources, SMALL, threads=3)

    assert isinstance(batch, ImageBatch)
    assert batch.indices == [0, 2, 5, 7]
    assert batch.pixels.shape == (4, 3, 16, 16) and batch.pixels.dtype == torch.float32
    assert [grey_level_of(p) for p in batch.pixels] == [40, 90, 200, 250]
    assert batch.failures[:3] == [
        (str(empty), "empty file (0 bytes)"),
        (str(text), "not a recognised image format"),
        (str(missing), "no such file"),
    ]
    assert len(batch.failures) == 4
    source, reason = batch.failures[3]
    assert source == "<bytes>[6]" and reason.startswith("truncated image data")


def test_batch_of_only_bad_or_no_sources_is_empty(tmp_path: Path) -> None:
    only_bad = load_batch([tmp_path / "nothing.png", b""], SMALL)
    nothing = load_batch([], SMALL)

    assert only_bad.pixels.shape == nothing.pixels.shape == (0, 3, 16, 16)
    assert only_bad.indices == nothing.indices == []
    assert [reason for _, reason in only_bad.failures] == ["no such file", "empty input (0 bytes)"]
    assert nothing.failures == []


def test_batch_pixels_equal_single_image_preprocessing(tmp_path: Path) -> None:
    noise = np.random.default_rng(3).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    Image.fromarray(noise).save(path)

    batch = load_batch([path, path], PreprocessConfig(resize=40, crop=32), threads=2)

    expected = load_preprocessed(path, PreprocessConfig(resize=40, crop=32))
    np.testing.assert_array_equal(batch.pixels[0].numpy(), expected)
    np.testing.assert_array_equal(batch.pixels[1].numpy(), expected)


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_iter_batches_gives_global_indices_and_per_batch_failures(
    tmp_path: Path, prefetch: int
) -> None:
    sources: list[Path] = []
    for i in range(10):
        path = tmp_path / f"image{i}.png"
        if i in (3, 7):
            path.write_bytes(b"\x89PNG broken")
        else:
            grey_png(path, 20 * i)
        sources.append(path)

    batches = list(iter_batches(iter(sources), SMALL, batch_size=4, threads=2, prefetch=prefetch))

    assert [b.indices for b in batches] == [[0, 1, 2], [4, 5, 6], [8, 9]]
    assert [[source for source, _ in b.failures] for b in batches] == [
        [str(sources[3])],
        [str(sources[7])],
        [],
    ]
    for batch in batches:
        assert [grey_level_of(p) for p in batch.pixels] == [20 * i for i in batch.indices]


def test_iter_batches_decodes_the_next_batch_while_the_caller_holds_the_current_one(
    tmp_path: Path,
) -> None:
    sources = [WatchedPath(grey_png(tmp_path / f"{i}.png", i)) for i in range(6)]
    batches = iter_batches(sources, SMALL, batch_size=2, threads=2, prefetch=1)

    first = next(batches)

    assert first.indices == [0, 1]
    # Nobody asked for the second batch yet, but the pool is already reading it.
    assert sources[2].touched.wait(timeout=30) and sources[3].touched.wait(timeout=30)
    assert [b.indices for b in batches] == [[2, 3], [4, 5]]


def test_iter_batches_shuts_its_threads_down_when_closed_early(tmp_path: Path) -> None:
    sources = [grey_png(tmp_path / f"{i}.png", i) for i in range(12)]

    def pool_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("vislang-images")]

    assert pool_threads() == []
    batches = iter_batches(sources, SMALL, batch_size=2, threads=2, prefetch=2)
    next(batches)
    assert pool_threads()
    batches.close()

    assert pool_threads() == []


def test_invalid_arguments_and_config_raise_instead_of_being_recorded(tmp_path: Path) -> None:
    path = grey_png(tmp_path / "a.png", 10)

    with pytest.raises(ValueError, match="threads must be >= 1"):
        load_batch([path], SMALL, threads=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        iter_batches([path], SMALL, batch_size=0)
    with pytest.raises(ConfigError):
        load_batch([path], PreprocessConfig(crop=0))
