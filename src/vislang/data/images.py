"""Decode any image file into an RGB picture the way a person would see it.

:func:`load_image` reads a path, bytes or a PIL image; applies the EXIF orientation; converts every
colour mode to RGB (CMYK, palette and alpha composited on a background, 16-bit and float greyscale
scaled to 8 bits, 1-bit); takes the first frame of animations; refuses images whose header declares
more pixels than a limit (decompression bombs) before decoding them. Anything that cannot be
decoded raises :class:`vislang.errors.ImageDecodeError` naming the source and the reason.

The lower-level pieces (:func:`open_image`, :func:`to_rgb`, :func:`exif_transpose_method`) are
public so that a fused decode-and-preprocess path can reuse them (see ``preprocess.py``).
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from vislang.errors import ImageDecodeError

ImageSource = str | os.PathLike | bytes | bytearray | Image.Image
RGBColour = tuple[int, int, int]

DEFAULT_MAX_PIXELS = 8192 * 8192
"""Largest image accepted by default (67 megapixels): more than any camera photo of the datasets
we read, far less than the memory a crafted file could make the decoder allocate."""

WHITE: RGBColour = (255, 255, 255)

# EXIF orientation tag value -> the transposition that puts the picture upright (EXIF 2.3, §4.6.4).
_ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


class UnsupportedModeError(ValueError):
    """A decoded image has a colour mode with no known conversion to RGB."""


def source_label(source: ImageSource) -> str:
    """How errors name a source: its path, or ``<bytes>`` / ``<PIL image>``."""
    if isinstance(source, (bytes, bytearray)):
        return "<bytes>"
    if isinstance(source, Image.Image):
        return "<PIL image>"
    return os.fspath(source)


def load_image(
    source: ImageSource,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: RGBColour = WHITE,
) -> Image.Image:
    """Decode ``source`` (path, bytes or PIL image) into an upright RGB image.

    ``max_pixels`` bounds width×height as declared by the file's header, checked before any pixel
    is decoded (``None``: no limit of ours; Pillow's own ``Image.MAX_IMAGE_PIXELS`` still applies).
    Transparent pixels are composited on ``background``. An RGB, upright PIL image is returned as
    it is (not copied). Raises :class:`ImageDecodeError` for missing, empty, truncated, corrupt,
    unrecognised or oversized input.
    """
    with open_image(source, max_pixels=max_pixels) as image:
        image.load()
        transpose = exif_transpose_method(image)
        rgb = to_rgb(image, background)
    return rgb if transpose is None else rgb.transpose(transpose)


@contextmanager
def open_image(source: ImageSource, *, max_pixels: int | None) -> Iterator[Image.Image]:
    """Open ``source`` lazily (header only) and check its declared size against ``max_pixels``.

    Yields the image not yet decoded (a file at its first frame; a PIL image passed in as it is).
    Any decoding failure raised inside the ``with`` block becomes an :class:`ImageDecodeError`
    naming the source. Files opened here are closed on exit; a PIL image passed in is left open.
    """
    label = source_label(source)
    with _converting_errors(label):
        if isinstance(source, Image.Image):
            _check_pixels(source, label, max_pixels)
            yield source
            return
        image = _open_file_or_bytes(source, label)
    with image, _converting_errors(label):
        _check_pixels(image, label, max_pixels)
        yield image


def exif_transpose_method(image: Image.Image) -> Image.Transpose | None:
    """The transposition that makes ``image`` upright according to its EXIF orientation tag,
    or ``None`` when it is upright already (no tag, value 1, or an invalid value)."""
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    return _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None


def to_rgb(image: Image.Image, background: RGBColour = WHITE) -> Image.Image:
    """Convert a decoded image of any Pillow mode to RGB.

    Alpha (RGBA, LA, PA, palette or greyscale with a transparent colour) is composited on
    ``background``. 16-bit greyscale (``I;16*``; ``I`` holding values in 0..65535) is scaled to
    8 bits by 255/65535; ``I`` with other values is stretched from its own minimum..maximum.
    Float (``F``) values in [0, 1] are scaled by 255, others stretched from minimum..maximum;
    non-finite values become black. 1-bit becomes black and white. CMYK uses Pillow's conversion
    (Adobe's inverted CMYK JPEGs are recognised by Pillow's decoder); CIE LAB goes through
    LittleCMS to sRGB. Embedded ICC profiles are not applied (neither does CLIP's processor).
    Raises :class:`UnsupportedModeError` for a mode with no conversion to RGB.
    """
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        return _composite_if_transparent(_integer_grey_to_l(image), image, background)
    if mode == "F":
        return _float_grey_to_l(image).convert("RGB")
    if mode == "La":  # premultiplied: Pillow un-premultiplies only towards LA
        image = image.convert("LA")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        return _composite(image.convert("RGBA"), background)
    if mode == "LAB":
        return ImageCms.applyTransform(image, _lab_to_srgb())
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise UnsupportedModeError(f"unsupported colour mode {mode!r}") from exc


def _open_file_or_bytes(source: str | os.PathLike | bytes | bytearray, label: str) -> Image.Image:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageDecodeError(label, "empty input (0 bytes)")
        return Image.open(io.BytesIO(source))
    path = Path(source)
    if not path.exists():
        raise ImageDecodeError(label, "no such file")
    if not path.is_file():
        raise ImageDecodeError(label, "not a regular file")
    if path.stat().st_size == 0:
        raise ImageDecodeError(label, "empty file (0 bytes)")
    return Image.open(path)


def _check_pixels(image: Image.Image, label: str, max_pixels: int | None) -> None:
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageDecodeError(
            label,
            f"image of {width}×{height} = {width * height} pixels is over the limit of "
            f"{max_pixels} pixels (decompression-bomb guard; raise max_pixels to accept it)",
        )


@contextmanager
def _converting_errors(label: str) -> Iterator[None]:
    """Turn whatever Pillow raises while reading an image into an ImageDecodeError."""
    try:
        yield
    except (ImageDecodeError, MemoryError):
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(label, "not a recognised image format") from exc
    except UnsupportedModeError as exc:
        raise ImageDecodeError(label, str(exc)) from exc
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(label, f"over Pillow's decompression-bomb limit: {exc}") from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError(label, "no such file") from exc
    except PermissionError as exc:
        raise ImageDecodeError(label, "permission denied") from exc
    except OSError as exc:
        message = str(exc)
        what = "truncated" if "truncated" in message.lower() else "corrupt"
        raise ImageDecodeError(label, f"{what} image data ({message})") from exc
    except Exception as exc:  # Pillow's plugins raise SyntaxError, ValueError, struct.error, ...
        raise ImageDecodeError(label, f"corrupt image data ({type(exc).__name__}: {exc})") from exc


def _integer_grey_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image).astype(np.int64)
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if image.mode != "I" or (low >= 0 and high <= 65535):
        scaled = (values * 255 + 32767) // 65535
    else:
        scaled = _stretch(values.astype(np.float64), low, high)
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def _float_grey_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    values = np.where(finite, values, 0.0)
    low, high = (
        (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0, 0)
    )
    in_unit_range = low >= 0.0 and high <= 1.0
    scaled = np.rint(values * 255.0) if in_unit_range else _stretch(values, low, high)
    scaled[~finite] = 0
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros_like(values)
    return np.rint((values - low) * (255.0 / (high - low)))


def _composite_if_transparent(
    grey: Image.Image, original: Image.Image, background: RGBColour
) -> Image.Image:
    transparent_value = original.info.get("transparency")
    if not isinstance(transparent_value, int):
        return grey.convert("RGB")
    opaque = np.asarray(original) != transparent_value
    alpha = Image.fromarray((opaque * 255).astype(np.uint8), mode="L")
    rgba = grey.convert("RGBA")
    rgba.putalpha(alpha)
    return _composite(rgba, background)


def _composite(rgba: Image.Image, background: RGBColour) -> Image.Image:
    canvas = Image.new("RGB", rgba.size, background)
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


@functools.lru_cache(maxsize=1)
def _lab_to_srgb() -> ImageCms.ImageCmsTransform:
    lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
    return ImageCms.buildTransform(lab, srgb, "LAB", "RGB")
