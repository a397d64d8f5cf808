"""CLIP-style image preprocessing: resize the shortest side, centre crop, scale, normalise.

:func:`preprocess` turns a PIL image into the float32 CHW array an encoder wants, with the same
geometry and rounding as ``transformers.CLIPImageProcessor``. :func:`load_preprocessed` does the
same straight from a file, faster (reduced-scale JPEG decoding where it is safe, rotation applied to
the crop only).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from vislang.data.images import (
    DEFAULT_MAX_PIXELS,
    WHITE,
    ImageSource,
    RGBColour,
    exif_transpose_method,
    open_image,
    to_rgb,
)
from vislang.errors import ConfigError

CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessConfig:
    """How an encoder wants its pixels: shortest side resized to ``resize`` (bicubic,
    antialiased), centre crop of ``crop``×``crop``, values scaled to [0, 1], then normalised per
    channel with ``mean`` and ``std``. Defaults are CLIP's (224, 224, OpenAI mean/std).

    ``resize_mode="square"`` resizes both sides to ``resize`` instead, without keeping the aspect
    ratio, before the same centre crop (SigLIP's processor: 224×224, ``crop == resize``, so the
    crop removes nothing)."""

    resize: int = 224
    crop: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    resize_mode: Literal["shortest_edge", "square"] = "shortest_edge"


DEFAULT_CONFIG = PreprocessConfig()

DRAFT_MARGIN = 3
"""A JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, much faster) only while its
shortest side stays at least ``DRAFT_MARGIN × config.resize``. Measured against the full decode on
the coco-mini photographs: reducing to exactly ``resize`` differs by up to 0.084 mean absolute
(normalised units), a 2× margin by up to 0.020, a margin of 3× or more by at most 0.011."""

_SWAPPING = frozenset(
    {
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_270,
    }
)


def resized_size(
    width: int, height: int, config: PreprocessConfig = DEFAULT_CONFIG
) -> tuple[int, int]:
    """(width, height) after the resize step, with the rounding of transformers'
    ``get_resize_output_image_size``: the shortest side becomes ``config.resize`` and the other
    side ``int(resize * long / short)`` (truncated), or both ``resize`` in ``"square"`` mode."""
    size = config.resize
    if config.resize_mode == "square":
        return size, size
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def preprocess(
    image: Image.Image,
    config: PreprocessConfig = DEFAULT_CONFIG,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """CLIP-style pixels of ``image`` as float32 (3, crop, crop).

    Resize (bicubic, antialiased) so the shortest side is ``config.resize``, centre-crop
    ``config.crop`` (padding with black when the crop is larger, as transformers does), scale to
    [0, 1] and normalise with ``config.mean``/``config.std``. A non-RGB image is converted with
    :func:`vislang.data.images.to_rgb`; EXIF tags are not looked at (use ``load_image`` or
    :func:`load_preprocessed` for files). ``out``, if given, receives the result.
    """
    _check_config(config)
    cropped = _resize_and_crop(to_rgb(image), image.size, 1, None, config)
    return _normalise(cropped, config, out)


def load_preprocessed(
    source: ImageSource,
    config: PreprocessConfig = DEFAULT_CONFIG,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: RGBColour = WHITE,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``preprocess(load_image(source))`` in one faster pass, equal up to resampling rounding.

    A JPEG much larger than needed is decoded at reduced scale (see :data:`DRAFT_MARGIN`), and the
    EXIF rotation is applied to the small crop instead of the full picture. Raises
    :class:`vislang.errors.ImageDecodeError` like :func:`vislang.data.images.load_image`.
    """
    _check_config(config)
    with open_image(source, max_pixels=max_pixels) as image:
        stored_size = image.size
        reduction = 1 if isinstance(source, Image.Image) else _draft(image, config)
        image.load()
        transpose = exif_transpose_method(image)
        rgb = to_rgb(image, background)
    cropped = _resize_and_crop(rgb, stored_size, reduction, transpose, config)
    return _normalise(cropped, config, out)


def _check_config(config: PreprocessConfig) -> None:
    if config.resize < 1 or config.crop < 1:
        raise ConfigError(f"resize and crop must be positive, got {config.resize}, {config.crop}")
    if len(config.mean) != 3 or len(config.std) != 3 or min(config.std) <= 0:
        raise ConfigError(f"mean and std need 3 values, std > 0; got {config.mean}, {config.std}")
    if config.resize_mode not in ("shortest_edge", "square"):
        raise ConfigError(f"unknown resize_mode {config.resize_mode!r}")


def _draft(image: Image.Image, config: PreprocessConfig) -> int:
    """Ask the JPEG decoder for a reduced scale where it is safe; returns the reduction factor."""
    if image.format != "JPEG":
        return 1
    full_width = image.size[0]
    side = DRAFT_MARGIN * config.resize
    drafted = image.draft(None, (side, side))
    if drafted is None:
        return 1
    _, (_, _, reduced_width, _) = drafted  # the full image's extent in decoded pixels
    return round(full_width / reduced_width)


def _resize_and_crop(
    rgb: Image.Image,
    stored_size: tuple[int, int],
    reduction: int,
    transpose: Image.Transpose | None,
    config: PreprocessConfig,
) -> Image.Image:
    """Resize and centre-crop ``rgb``, an image stored ``stored_size`` pixels large at full scale,
    decoded ``reduction`` times smaller, that ``transpose`` makes upright."""
    stored_width, stored_height = stored_size
    swapped = transpose in _SWAPPING
    width, height = (stored_height, stored_width) if swapped else stored_size
    new_width, new_height = resized_size(width, height, config)
    crop = config.crop
    left, top = (new_width - crop) // 2, (new_height - crop) // 2
    if left < 0 or top < 0:
        # The crop is larger than the resized image: resize all of it, then pad with black.
        size = (new_height, new_width) if swapped else (new_width, new_height)
        whole = (0.0, 0.0, stored_width / reduction, stored_height / reduction)
        resized = rgb.resize(size, Image.Resampling.BICUBIC, box=_clamp(whole, rgb.size))
        upright = resized if transpose is None else resized.transpose(transpose)
        return upright.crop((left, top, left + crop, top + crop))
    # Resample only the crop window: same pixels as resizing everything and cropping afterwards.
    x_scale, y_scale = width / new_width, height / new_height
    window = (left * x_scale, top * y_scale, (left + crop) * x_scale, (top + crop) * y_scale)
    stored_window = _window_in_stored(window, stored_width, stored_height, transpose)
    box = _clamp(tuple(v / reduction for v in stored_window), rgb.size)
    cropped = rgb.resize((crop, crop), Image.Resampling.BICUBIC, box=box)
    return cropped if transpose is None else cropped.transpose(transpose)


def _window_in_stored(
    window: tuple[float, float, float, float],
    stored_width: int,
    stored_height: int,
    transpose: Image.Transpose | None,
) -> tuple[float, float, float, float]:
    """Map a box in upright coordinates to the stored image that ``transpose`` makes upright."""
    x0, y0, x1, y1 = window
    w, h = stored_width, stored_height
    t = Image.Transpose
    mapped = {
        None: (x0, y0, x1, y1),
        t.FLIP_LEFT_RIGHT: (w - x1, y0, w - x0, y1),
        t.FLIP_TOP_BOTTOM: (x0, h - y1, x1, h - y0),
        t.ROTATE_180: (w - x1, h - y1, w - x0, h - y0),
        t.TRANSPOSE: (y0, x0, y1, x1),
        t.ROTATE_90: (w - y1, x0, w - y0, x1),
        t.ROTATE_270: (y0, h - x1, y1, h - x0),
        t.TRANSVERSE: (w - y1, h - x1, w - y0, h - x0),
    }
    return mapped[transpose]


def _clamp(box: tuple[float, ...], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Keep a resampling box inside the image (floating-point rounding can overshoot by 1e-13)."""
    width, height = size
    x0, y0, x1, y1 = box
    return max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)


@functools.lru_cache(maxsize=16)
def _normalisation_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3, 256) float32: the normalised value of every 8-bit level in every channel."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    table = (levels[None, :] - np.asarray(mean)[:, None]) / np.asarray(std)[:, None]
    return table.astype(np.float32)


def _normalise(image: Image.Image, config: PreprocessConfig, out: np.ndarray | None) -> np.ndarray:
    """Scale to [0, 1] and normalise into a float32 CHW array, one table look-up per value."""
    pixels = np.asarray(image)
    shape = (3, config.crop, config.crop)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be float32 {shape}, got {out.dtype} {out.shape}")
    table = _normalisation_table(tuple(map(float, config.mean)), tuple(map(float, config.std)))
    for channel in range(3):
        np.take(table[channel], pixels[..., channel], out=out[channel])
    return out
