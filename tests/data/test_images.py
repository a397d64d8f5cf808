"""Decoding awkward image files: every outcome checked by value (pixels, size, mode, error text)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vislang.data.images import load_image, to_rgb
from vislang.errors import ImageDecodeError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
GREY = (128, 128, 128)


def close_to(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    """Lossy formats (JPEG) shift colours a little: compare channel by channel."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def noise_jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- ordinary and colour-mode conversions ---------------------------------------------------------


def test_rgb_jpeg_from_path_bytes_and_pil_give_the_same_pixels(tmp_path: Path) -> None:
    picture = Image.new("RGB", (32, 16), RED)
    picture.paste(BLUE, (16, 0, 32, 16))
    path = tmp_path / "halves.jpg"
    picture.save(path, quality=95)

    from_path = load_image(path)
    from_bytes = load_image(path.read_bytes())
    from_pil = load_image(Image.open(path))

    assert from_path.mode == "RGB" and from_path.size == (32, 16)
    assert close_to(from_path.getpixel((4, 8)), RED)
    assert close_to(from_path.getpixel((28, 8)), BLUE)
    assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))
    assert np.array_equal(np.asarray(from_path), np.asarray(from_pil))


def test_cmyk_jpeg_with_adobe_marker_becomes_the_right_rgb(tmp_path: Path) -> None:
    inks = {
        (0, 0): (255, 0, 0, 0),
        (1, 0): (0, 255, 0, 0),
        (0, 1): (0, 0, 255, 0),
        (1, 1): (0,) * 4,
    }
    picture = Image.new("CMYK", (32, 32))
    for (col, row), ink in inks.items():
        picture.paste(ink, (col * 16, row * 16, col * 16 + 16, row * 16 + 16))
    path = tmp_path / "cmyk.jpg"
    picture.save(path, quality=95)
    with Image.open(path) as stored:
        assert stored.mode == "CMYK" and "adobe" in stored.info  # inverted (Adobe) CMYK on disk

    rgb = load_image(path)

    assert rgb.mode == "RGB"
    assert close_to(rgb.getpixel((8, 8)), (0, 255, 255))  # cyan
    assert close_to(rgb.getpixel((24, 8)), (255, 0, 255))  # magenta
    assert close_to(rgb.getpixel((8, 24)), (255, 255, 0))  # yellow
    assert close_to(rgb.getpixel((24, 24)), (255, 255, 255))  # no ink: paper white


def test_palette_png_with_transparent_index_is_composited_on_the_background(
    tmp_path: Path,
) -> None:
    picture = Image.new("P", (20, 10), 0)
    picture.putpalette([*RED, *BLUE] + [0] * (254 * 3))
    picture.paste(1, (10, 0, 20, 10))
    path = tmp_path / "palette.png"
    picture.save(path, transparency=0)  # red (index 0) is the transparent colour

    on_green = load_image(path, background=GREEN)
    on_white = load_image(path)

    assert on_green.mode == "RGB"
    assert on_green.getpixel((2, 5)) == GREEN
    assert on_green.getpixel((15, 5)) == BLUE
    assert on_white.getpixel((2, 5)) == (255, 255, 255)


def test_palette_png_with_partial_alpha_table_is_blended(tmp_path: Path) -> None:
    picture = Image.new("P", (10, 10), 0)
    picture.putpalette([*RED] + [0] * (255 * 3))
    path = tmp_path / "half_transparent.png"
    picture.save(path, transparency=bytes([128]))  # index 0 is 128/255 opaque

    blended = load_image(path, background=(0, 0, 0))

    red, green, blue = blended.getpixel((5, 5))
    assert abs(red - 128) <= 1 and green == 0 and blue == 0


@pytest.mark.parametrize(
    ("alpha", "background", "expected"),
    [(0, (0, 0, 255), (0, 0, 255)), (255, (0, 0, 255), (200,) * 3), (128, (0, 0, 0), (100,) * 3)],
)
def test_la_png_composited_on_background(
    tmp_path: Path, alpha: int, background: tuple[int, int, int], expected: tuple[int, ...]
) -> None:
    picture = Image.new("LA", (8, 8), (200, alpha))
    path = tmp_path / "grey_alpha.png"
    picture.save(path)
    with Image.open(path) as stored:
        assert stored.mode == "LA"

    rgb = load_image(path, background=background)

    assert rgb.mode == "RGB"
    assert close_to(rgb.getpixel((4, 4)), expected, tolerance=1)


def test_rgba_png_composited_on_background(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (10, 4), (*RED, 255))
    picture.paste((*BLUE, 0), (5, 0, 10, 4))
    path = tmp_path / "rgba.png"
    picture.save(path)

    rgb = load_image(path, background=GREY)

    assert rgb.getpixel((1, 1)) == RED
    assert rgb.getpixel((8, 1)) == GREY


def test_sixteen_bit_png_is_scaled_to_eight_bits_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as stored:
        assert stored.mode in ("I;16", "I")  # 16 bits per sample on disk
        assert stored.getpixel((3, 0)) == 65535

    rgb = load_image(path)

    assert [rgb.getpixel((x, 0)) for x in range(4)] == [
        (0, 0, 0),
        (100, 100, 100),
        (128, 128, 128),
        (255, 255, 255),
    ]


def test_thirty_two_bit_integer_greyscale_is_scaled_as_sixteen_bit_or_stretched() -> None:
    sixteen_bit_in_i = Image.fromarray(np.array([[0, 65535]], dtype=np.int32), mode="I")
    signed = Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32), mode="I")

    assert np.asarray(to_rgb(sixteen_bit_in_i))[0].tolist() == [[0, 0, 0], [255, 255, 255]]
    assert np.asarray(to_rgb(signed))[0, :, 0].tolist() == [0, 128, 255]


def test_float_greyscale_in_unit_range_is_scaled_and_other_ranges_stretched() -> None:
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F")
    wide = Image.fromarray(np.array([[-2.0, 2.0, np.nan]], dtype=np.float32), mode="F")

    assert np.asarray(to_rgb(unit))[0, :, 0].tolist() == [0, 128, 255]
    assert np.asarray(to_rgb(wide))[0, :, 0].tolist() == [0, 255, 0]


def test_one_bit_png_becomes_black_and_white(tmp_path: Path) -> None:
    picture = Image.new("1", (8, 2), 0)
    picture.paste(1, (4, 0, 8, 2))
    path = tmp_path / "bilevel.png"
    picture.save(path)
    with Image.open(path) as stored:
        assert stored.mode == "1"

    rgb = load_image(path)

    assert rgb.getpixel((1, 1)) == (0, 0, 0)
    assert rgb.getpixel((6, 1)) == (255, 255, 255)


def test_cie_lab_red_becomes_srgb_red() -> None:
    lab_red = Image.new("LAB", (2, 2), (136, 128 + 80, 128 + 67))  # L* 53, a* 80, b* 67

    assert close_to(to_rgb(lab_red).getpixel((0, 0)), RED, tolerance=16)


@pytest.mark.parametrize("extension", ["gif", "png", "webp"])
def test_animated_image_gives_its_first_frame(tmp_path: Path, extension: str) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / f"animated.{extension}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, lossless=True)
    with Image.open(path) as stored:
        assert stored.n_frames == 3

    first = load_image(path)

    assert first.mode == "RGB"
    assert first.getpixel((8, 8)) == RED


# --- EXIF orientation -----------------------------------------------------------------------------

# Stored picture: 64 wide, 40 high, a green block in the stored top-left corner and a blue block in
# the stored top-right corner. For each EXIF orientation, where a viewer shows them (EXIF 2.3).
_UPRIGHT = {
    1: ((64, 40), "top-left", "top-right"),
    2: ((64, 40), "top-right", "top-left"),
    3: ((64, 40), "bottom-right", "bottom-left"),
    4: ((64, 40), "bottom-left", "bottom-right"),
    5: ((40, 64), "top-left", "bottom-left"),
    6: ((40, 64), "top-right", "bottom-right"),
    7: ((40, 64), "bottom-right", "top-right"),
    8: ((40, 64), "bottom-left", "top-left"),
}


def oriented_jpeg(path: Path, orientation: int) -> Path:
    picture = Image.new("RGB", (64, 40), GREY)
    picture.paste(GREEN, (0, 0, 16, 16))
    picture.paste(BLUE, (48, 0, 64, 16))
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture.save(path, quality=95, exif=exif)
    return path


def corner_pixel(image: Image.Image, corner: str) -> tuple[int, ...]:
    vertical, horizontal = corner.split("-")
    x = 6 if horizontal == "left" else image.width - 7
    y = 6 if vertical == "top" else image.height - 7
    return image.getpixel((x, y))


@pytest.mark.parametrize("orientation", sorted(_UPRIGHT))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = oriented_jpeg(tmp_path / f"oriented{orientation}.jpg", orientation)
    size, green_corner, blue_corner = _UPRIGHT[orientation]

    upright = load_image(path)

    assert upright.size == size
    assert close_to(corner_pixel(upright, green_corner), GREEN)
    assert close_to(corner_pixel(upright, blue_corner), BLUE)
    other_corners = {"top-left", "top-right", "bottom-left", "bottom-right"}
    for corner in other_corners - {green_corner, blue_corner}:
        assert close_to(corner_pixel(upright, corner), GREY)


# --- decompression-bomb guard ---------------------------------------------------------------------


def test_image_over_the_pixel_limit_is_refused_naming_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 80), RED).save(path)

    with pytest.raises(ImageDecodeError) as raised:
        load_image(path, max_pixels=7999)

    assert raised.value.source == str(path)
    assert "100×80 = 8000 pixels is over the limit of 7999" in raised.value.reason
    assert load_image(path, max_pixels=8000).size == (100, 80)
    assert load_image(path, max_pixels=None).size == (100, 80)


def test_pixel_limit_is_checked_on_the_header_before_decoding(tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (300, 300), RED).save(png, "PNG")
    header_only = png.getvalue()[:100]  # declares 300×300, holds almost no pixel data

    with pytest.raises(ImageDecodeError) as raised:
        load_image(header_only, max_pixels=10_000)

    assert raised.value.source == "<bytes>"
    assert "300×300 = 90000 pixels is over the limit" in raised.value.reason


def test_pixel_limits_of_concurrent_calls_do_not_interfere(tmp_path: Path) -> None:
    path = tmp_path / "medium.png"
    Image.new("RGB", (50, 50), RED).save(path)
    limits = [1000, None, 2500, 2499, 10**9, 100] * 10
    pillow_limit = Image.MAX_IMAGE_PIXELS

    def outcome(limit: int | None) -> str:
        try:
            return str(load_image(path, max_pixels=limit).size)
        except ImageDecodeError:
            return "refused"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(outcome, limits))

    expected = ["refused", "(50, 50)", "(50, 50)", "refused", "(50, 50)", "refused"] * 10
    assert outcomes == expected
    assert pillow_limit == Image.MAX_IMAGE_PIXELS  # Pillow's global limit is left alone


def test_pillows_own_bomb_limit_becomes_an_image_decode_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    with pytest.raises(ImageDecodeError) as raised:
        load_image(path, max_pixels=None)

    assert raised.value.reason.startswith("over Pillow's decompression-bomb limit")


# --- broken input ---------------------------------------------------------------------------------


def test_truncated_jpeg_names_the_path_and_says_truncated(tmp_path: Path) -> None:
    data = noise_jpeg_bytes()
    path = write(tmp_path / "truncated.jpg", data[: len(data) // 2])

    with pytest.raises(ImageDecodeError) as raised:
        load_image(path)

    assert raised.value.source == str(path)
    assert raised.value.reason.startswith("truncated image data")
    assert str(raised.value).startswith(f"{path}: truncated image data")


def test_truncated_bytes_and_lazily_opened_pil_image_are_named_by_kind() -> None:
    data = noise_jpeg_bytes()
    truncated = data[: len(data) // 2]

    with pytest.raises(ImageDecodeError) as from_bytes:
        load_image(truncated)
    with pytest.raises(ImageDecodeError) as from_pil:
        load_image(Image.open(io.BytesIO(truncated)))

    assert from_bytes.value.source == "<bytes>"
    assert from_pil.value.source == "<PIL image>"
    assert from_bytes.value.reason.startswith("truncated image data")
    assert from_pil.value.reason.startswith("truncated image data")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty file (0 bytes)"),
        ("notes.jpg", b"this is a text file, not a photograph\n", "not a recognised image format"),
    ],
)
def test_empty_and_non_image_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = write(tmp_path / name, content)

    with pytest.raises(ImageDecodeError) as raised:
        load_image(path)

    assert (raised.value.source, raised.value.reason) == (str(path), reason)


def test_empty_bytes_missing_file_and_directory(tmp_path: Path) -> None:
    cases = [(b"", "<bytes>", "empty input (0 bytes)")]
    cases += [(tmp_path / "absent.png", str(tmp_path / "absent.png"), "no such file")]
    cases += [(tmp_path, str(tmp_path), "not a regular file")]
    for source, label, reason in cases:
        with pytest.raises(ImageDecodeError) as raised:
            load_image(source)
        assert (raised.value.source, raised.value.reason) == (label, reason)


def test_corrupt_png_data_is_reported_as_corrupt(tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), np.uint8)).save(
        png, "PNG"
    )
    data = bytearray(png.getvalue())
    data[100:200] = bytes(100)  # zero out part of the compressed pixel stream
    path = write(tmp_path / "corrupt.png", bytes(data))

    with pytest.raises(ImageDecodeError) as raised:
        load_image(path)

    assert raised.value.source == str(path)
    assert raised.value.reason.startswith("corrupt image data")


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about damaged TIFF tags
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"]),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_damaged_files_either_decode_to_rgb_or_raise_image_decode_error(
    fmt: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    picture = Image.fromarray(np.random.default_rng(2).integers(0, 256, (24, 32, 3), np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    data = bytearray(buffer.getvalue()[: max(1, int(len(buffer.getvalue()) * cut))])
    for position, value in flips:
        data[int(position * (len(data) - 1))] = value

    try:
        image = load_image(bytes(data), max_pixels=1_000_000)
    except ImageDecodeError as error:
        assert error.source == "<bytes>" and error.reason
    else:
        assert image.mode == "RGB" and image.width * image.height <= 1_000_000
