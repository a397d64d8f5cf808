"""CLIP-style preprocessing, checked against transformers' CLIPImageProcessor and by value."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile
from transformers import CLIPImageProcessor
from transformers.image_transforms import get_resize_output_image_size

from vislang.data.images import load_image
from vislang.data.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    DRAFT_MARGIN,
    PreprocessConfig,
    load_preprocessed,
    preprocess,
    resized_size,
)
from vislang.errors import ConfigError

TOLERANCE = 0.02  # mean absolute difference, in normalised units
MEAN = np.array(CLIP_MEAN, dtype=np.float64)[:, None, None]
STD = np.array(CLIP_STD, dtype=np.float64)[:, None, None]


def clip_processor(config: PreprocessConfig) -> CLIPImageProcessor:
    """The reference implementation, set up like ``config``."""
    if config.resize_mode == "square":
        size = {"height": config.resize, "width": config.resize}
    else:
        size = {"shortest_edge": config.resize}
    return CLIPImageProcessor(
        size=size,
        crop_size={"height": config.crop, "width": config.crop},
        image_mean=list(config.mean),
        image_std=list(config.std),
    )


def reference(images: list[Image.Image], config: PreprocessConfig) -> np.ndarray:
    return clip_processor(config)(images=images, return_tensors="np")["pixel_values"]


def mean_abs_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours.astype(np.float64) - theirs).mean())


def coco_photographs(shared_data: Path) -> list[Path]:
    photos = sorted((shared_data / "coco-mini").glob("*2017/*.jpg"))
    assert len(photos) >= 50, "coco-mini should hold its train2017 and val2017 photographs"
    return photos


def textured_picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus fine stripes and noise: resampling errors show up clearly on it."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    red = 255 * x / max(1, width - 1)
    green = 127.5 + 127.5 * np.sin(x / 3.0) * np.cos(y / 5.0)
    blue = 255 * y / max(1, height - 1)
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


# --- the real photographs -------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "config",
    [
        PreprocessConfig(),
        PreprocessConfig(resize=256, crop=224),
        PreprocessConfig(resize=200, crop=224),  # crop larger than the resized picture: padding
        PreprocessConfig(resize=64, crop=56),  # small enough for reduced-scale JPEG decoding
        PreprocessConfig(resize=224, crop=224, resize_mode="square"),
    ],
    ids=["clip-224", "resize-256-crop-224", "resize-200-crop-224", "resize-64", "square-224"],
)
def test_coco_photographs_match_clip_image_processor(
    shared_data: Path, config: PreprocessConfig
) -> None:
    photos = coco_photographs(shared_data)
    theirs = reference([Image.open(p).convert("RGB") for p in photos], config)

    for photo, expected in zip(photos, theirs, strict=True):
        via_load_image = preprocess(load_image(photo), config)
        fused = load_preprocessed(photo, config)
        assert (
            via_load_image.shape == fused.shape == expected.shape == (3, config.crop, config.crop)
        )
        assert via_load_image.dtype == fused.dtype == np.float32
        assert mean_abs_difference(via_load_image, expected) <= TOLERANCE, photo.name
        assert mean_abs_difference(fused, expected) <= TOLERANCE, photo.name


@pytest.mark.shared_data
def test_large_jpeg_is_decoded_at_reduced_scale_within_tolerance(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = coco_photographs(shared_data)[0]
    with Image.open(photo) as original:
        large = original.convert("RGB").resize((original.width * 4, original.height * 4))
    path = tmp_path / "large.jpg"
    large.save(path, quality=92)
    reductions: list[float] = []
    real_draft = JpegImageFile.draft

    def recording_draft(
        self: JpegImageFile, mode: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int, float, float]] | None:
        drafted = real_draft(self, mode, size)
        if drafted is not None:
            _, (_, _, full_width_in_decoded_pixels, _) = drafted
            reductions.append(large.width / full_width_in_decoded_pixels)
        return drafted

    monkeypatch.setattr(JpegImageFile, "draft", recording_draft)
    config = PreprocessConfig()

    fused = load_preprocessed(path, config)

    assert reductions and reductions[0] >= 2  # the decoder really worked at reduced scale
    assert min(large.size) / reductions[0] >= DRAFT_MARGIN * config.resize
    expected = reference([large], config)[0]
    assert mean_abs_difference(fused, expected) <= TOLERANCE


# --- geometry -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    resize=st.integers(1, 1024),
)
def test_resized_size_rounds_like_transformers(width: int, height: int, resize: int) -> None:
    channels_first = np.empty((3, height, width), dtype=np.uint8)
    expected_height, expected_width = get_resize_output_image_size(
        channels_first, resize, default_to_square=False, input_data_format="channels_first"
    )

    assert resized_size(width, height, PreprocessConfig(resize=resize)) == (
        expected_width,
        expected_height,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    resize=st.integers(1, 160),
    crop=st.integers(1, 160),
    square=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_image_and_sizes_match_clip_image_processor(
    width: int, height: int, resize: int, crop: int, square: bool, seed: int
) -> None:
    config = PreprocessConfig(
        resize=resize, crop=crop, resize_mode="square" if square else "shortest_edge"
    )
    picture = textured_picture(width, height, seed)

    ours = preprocess(picture, config)

    assert ours.shape == (3, crop, crop) and ours.dtype == np.float32
    assert np.isfinite(ours).all()
    assert ours.min() >= ((0 - MEAN) / STD).min() - 1e-5
    assert ours.max() <= ((1 - MEAN) / STD).max() + 1e-5
    assert mean_abs_difference(ours, reference([picture], config)[0]) <= TOLERANCE


def test_crop_larger_than_image_pads_with_black_where_transformers_does() -> None:
    config = PreprocessConfig(resize=10, crop=15)
    white = Image.new("RGB", (10, 10), (255, 255, 255))

    ours = preprocess(white, config)

    black_level = (0 - MEAN[:, 0, 0]) / STD[:, 0, 0]
    white_level = (1 - MEAN[:, 0, 0]) / STD[:, 0, 0]
    inside = np.zeros((15, 15), dtype=bool)
    inside[3:13, 3:13] = True  # ceil((15 - 10) / 2) = 3 rows and columns of padding first
    for channel in range(3):
        np.testing.assert_allclose(ours[channel][inside], white_level[channel], atol=1e-6)
        np.testing.assert_allclose(ours[channel][~inside], black_level[channel], atol=1e-6)
    np.testing.assert_allclose(ours, reference([white], config)[0], atol=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    "config",
    # Odd margins around the crop (51 and 13; -29 and -3): a window off by one pixel shows.
    [PreprocessConfig(resize=61, crop=48), PreprocessConfig(resize=43, crop=72)],
    ids=["crop-inside", "crop-padded"],
)
def test_fused_path_applies_exif_orientation_like_load_image(
    tmp_path: Path, orientation: int, config: PreprocessConfig
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"oriented{orientation}.jpg"
    textured_picture(151, 93).save(path, quality=95, exif=exif)

    fused = load_preprocessed(path, config)
    two_steps = preprocess(load_image(path), config)

    assert mean_abs_difference(fused, two_steps) <= 0.005
    unrotated = preprocess(Image.open(path).convert("RGB"), config)
    if orientation != 1:  # the test picture has no symmetry: a wrong rotation shows
        assert mean_abs_difference(fused, unrotated) > 0.1


# --- values ---------------------------------------------------------------------------------------


def test_solid_colour_gives_exactly_the_normalised_values() -> None:
    colour = (10, 128, 250)
    config = PreprocessConfig(resize=32, crop=24, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))

    ours = preprocess(Image.new("RGB", (50, 40), colour), config)

    expected = [(c / 255 - m) / s for c, m, s in zip(colour, config.mean, config.std, strict=True)]
    for channel in range(3):
        np.testing.assert_allclose(ours[channel], expected[channel], rtol=1e-6)


def test_non_rgb_input_is_converted_first() -> None:
    grey = Image.new("L", (40, 30), 77)
    with_alpha = Image.new("RGBA", (40, 30), (255, 0, 0, 0))

    np.testing.assert_array_equal(preprocess(grey), preprocess(grey.convert("RGB")))
    np.testing.assert_array_equal(
        preprocess(with_alpha), preprocess(Image.new("RGB", (40, 30), (255, 255, 255)))
    )


def test_result_is_written_into_out_when_given() -> None:
    picture = textured_picture(80, 60)
    out = np.zeros((2, 3, 224, 224), dtype=np.float32)

    returned = preprocess(picture, out=out[1])

    assert np.shares_memory(returned, out)
    np.testing.assert_array_equal(out[1], preprocess(picture))
    assert not out[0].any()
    with pytest.raises(ValueError, match="out must be float32"):
        preprocess(picture, out=np.zeros((3, 10, 10), dtype=np.float32))


def test_fused_path_reads_bytes_and_pil_images_like_paths(tmp_path: Path) -> None:
    path = tmp_path / "picture.png"
    textured_picture(90, 70).save(path)

    from_path = load_preprocessed(path)

    np.testing.assert_array_equal(load_preprocessed(path.read_bytes()), from_path)
    np.testing.assert_array_equal(
        load_preprocessed(Image.open(io.BytesIO(path.read_bytes()))), from_path
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (PreprocessConfig(resize=0), "resize and crop must be positive"),
        (PreprocessConfig(crop=-1), "resize and crop must be positive"),
        (PreprocessConfig(std=(0.2, 0.0, 0.2)), "std > 0"),
        (PreprocessConfig(resize_mode="stretch"), "unknown resize_mode"),  # type: ignore[arg-type]
    ],
)
def test_invalid_config_is_a_config_error(config: PreprocessConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        preprocess(Image.new("RGB", (8, 8)), config)
