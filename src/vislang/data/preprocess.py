"""CLIP-style image preprocessing: resize the shortest side, centre crop, scale, normalise.

:func:`preprocess` turns a PIL image into the float32 CHW array an encoder wants, with the same
geometry and rounding as ``transformers.CLIPImageProcessor``. :func:`load_preprocessed` does the
same straight from a file, faster (reduced-scale JPEG decoding where it is safe, EXIF rotation
applied to the crop only).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
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
(normalised units), a 2× margin by up to 0.020, a margin of 3× by at most 0.010."""

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
) -> torch.Tensor:
    """Resize and centre-crop ``rgb`` into an upright uint8 (3, crop, crop) tensor.

    ``rgb`` is a picture stored ``stored_size`` pixels large at full scale, decoded ``reduction``
    times smaller, which ``transpose`` makes upright. The geometry is computed on the upright
    full-scale size; the resampling runs on the stored picture and only the crop is transposed.
    """
    swapped = transpose in _SWAPPING
    width, height = (stored_size[1], stored_size[0]) if swapped else stored_size
    new_width, new_height = resized_size(width, height, config)
    stored_new_size = (new_height, new_width) if swapped else (new_width, new_height)
    extent = (stored_size[0] / reduction, stored_size[1] / reduction)
    resized = _resize(rgb, extent, stored_new_size)
    crop = config.crop
    left, top = (new_width - crop) // 2, (new_height - crop) // 2
    x0, y0, x1, y1 = _window_in_stored(
        (left, top, left + crop, top + crop), *stored_new_size, transpose
    )
    cropped = _crop_with_black_border(resized, x0, y0, x1, y1)
    return _transpose(cropped, transpose)


def _resize(rgb: Image.Image, extent: tuple[float, float], size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bicubic resize of the top-left ``extent`` (width, height) of ``rgb`` to ``size``
    (width, height), as a uint8 (3, height, width) tensor.

    PyTorch's uint8 kernel is a port of Pillow-SIMD's: the filter and support of Pillow's
    ``Image.resize(BICUBIC)`` (which transformers uses), vectorised, single-threaded and GIL-free,
    several times faster than Pillow's. A JPEG decoded at reduced scale whose size is not a
    multiple of the reduction ends in a partial pixel (an extent of 196.5 of 197 rows): only
    Pillow resamples a fractional box, and ignoring that half pixel costs up to 0.04 of mean
    difference on the coco-mini photographs.
    """
    width, height = size
    if extent != rgb.size:
        resized = rgb.resize(size, Image.Resampling.BICUBIC, box=(0, 0, *extent))
        return torch.from_numpy(np.array(resized)).permute(2, 0, 1)
    pixels = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)  # a channels-last view
    if (pixels.shape[1], pixels.shape[2]) == (height, width):
        return pixels
    return F.interpolate(pixels[None], size=(height, width), mode="bicubic", antialias=True)[0]


def _crop_with_black_border(
    pixels: torch.Tensor, x0: int, y0: int, x1: int, y1: int
) -> torch.Tensor:
    """``pixels[:, y0:y1, x0:x1]``, where the parts outside the image are black (zero)."""
    _, height, width = pixels.shape
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return pixels[:, y0:y1, x0:x1]
    canvas = torch.zeros((3, y1 - y0, x1 - x0), dtype=pixels.dtype)
    inner_x0, inner_y0 = max(x0, 0), max(y0, 0)
    inner_x1, inner_y1 = min(x1, width), min(y1, height)
    canvas[:, inner_y0 - y0 : inner_y1 - y0, inner_x0 - x0 : inner_x1 - x0] = pixels[
        :, inner_y0:inner_y1, inner_x0:inner_x1
    ]
    return canvas


def _window_in_stored(
    window: tuple[int, int, int, int],
    stored_width: int,
    stored_height: int,
    transpose: Image.Transpose | None,
) -> tuple[int, int, int, int]:
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


def _transpose(pixels: torch.Tensor, transpose: Image.Transpose | None) -> torch.Tensor:
    """Apply a PIL transposition to a (3, H, W) tensor."""
    t = Image.Transpose
    if transpose is None:
        return pixels
    if transpose == t.FLIP_LEFT_RIGHT:
        return pixels.flip(-1)
    if transpose == t.FLIP_TOP_BOTTOM:
        return pixels.flip(-2)
    if transpose == t.ROTATE_180:
        return pixels.flip(-2, -1)
    if transpose == t.TRANSPOSE:
        return pixels.transpose(-2, -1)
    if transpose == t.ROTATE_90:  # counter-clockwise
        return pixels.rot90(1, (-2, -1))
    if transpose == t.ROTATE_270:
        return pixels.rot90(-1, (-2, -1))
    return pixels.transpose(-2, -1).flip(-2, -1)  # TRANSVERSE


@functools.lru_cache(maxsize=16)
def _normalisation_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3, 256) float32: the normalised value of every 8-bit level in every channel."""
    levels = np.arange(256, dtype=np.float64) / 255.0
    table = (levels[None, :] - np.asarray(mean)[:, None]) / np.asarray(std)[:, None]
    return table.astype(np.float32)


def _normalise(
    pixels: torch.Tensor, config: PreprocessConfig, out: np.ndarray | None
) -> np.ndarray:
    """Scale uint8 (3, crop, crop) to [0, 1] and normalise into float32, one look-up per value."""
    levels = pixels.numpy()
    shape = (3, config.crop, config.crop)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be float32 {shape}, got {out.dtype} {out.shape}")
    table = _normalisation_table(tuple(map(float, config.mean)), tuple(map(float, config.std)))
    for channel in range(3):
        np.take(table[channel], levels[channel], out=out[channel])
    return out
