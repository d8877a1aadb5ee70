from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from flowenedet_ros.conversion_bench import COMPRESSED, measure
from flowenedet_ros.errors import DepthImageError, ImageConversionError
from flowenedet_ros.image_conversion import (
    ENCODINGS,
    array_to_image_fields,
    compressed_to_rgb,
    conversion_table,
    depth_kind,
    image_to_rgb,
    rgb_to_compressed,
    rgb_to_image_fields,
)

RGB = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)


def padded(rows: np.ndarray, padding: int) -> tuple[int, bytes]:
    flat = rows.reshape(rows.shape[0], -1)
    step = flat.shape[1] + padding
    data = np.zeros((rows.shape[0], step), np.uint8)
    data[:, :flat.shape[1]] = flat
    return step, data.tobytes()


@pytest.mark.parametrize(("encoding", "pixels"), [
    ("rgb8", RGB), ("bgr8", RGB[:, :, ::-1]),
    ("rgba8", np.dstack([RGB, np.full((4, 5), 7, np.uint8)])),
    ("bgra8", np.dstack([RGB[:, :, ::-1], np.full((4, 5), 7, np.uint8)])),
])
@pytest.mark.parametrize("padding", [0, 3])
def test_colour_encodings_with_and_without_row_padding_give_rgb(encoding, pixels, padding):
    step, data = padded(pixels, padding)
    assert np.array_equal(image_to_rgb(encoding, 4, 5, step, data), RGB)


def test_mono8_becomes_grey_rgb():
    grey = RGB[:, :, 0]
    step, data = padded(grey, 2)
    assert np.array_equal(image_to_rgb("mono8", 4, 5, step, data), np.dstack([grey] * 3))


@pytest.mark.parametrize(("encoding", "height", "width", "step", "length", "message"), [
    ("16UC1", 4, 5, 10, 40, "16UC1 is a depth image, not a camera frame"),
    ("32FC1", 4, 5, 20, 80, "32FC1 is a depth image, not a camera frame"),
    ("16SC1", 4, 5, 10, 40, "unsupported encoding '16SC1'"),
    ("bayer_rggb8", 4, 5, 5, 20, "bayer_rggb8 needs an even width"),
    ("nv21", 3, 4, 4, 24, "nv21 needs an even height"),
    ("nv21", 4, 4, 4, 16, "data has 16 bytes, a 4x6 nv21 image"),
    ("yuv422", 4, 4, 6, 32, "step 6 is shorter than a row of 4 yuv422 pixels"),
    ("mono16", 4, 5, 9, 40, "step 9 is shorter than a row"),
    ("rgb8", 4, 5, 15, 44, "data has 44 bytes"),
    ("rgb8", 0, 5, 15, 0, "empty image"),
    ("rgb8", 4, 5, 12, 60, "step 12 is shorter than a row"),
    ("rgb8", 5000, 5000, 15000, 10, "exceeds max_pixels"),
])
def test_bad_images_are_rejected_with_the_reason(encoding, height, width, step, length,
                                                 message):
    with pytest.raises(ImageConversionError, match=message):
        image_to_rgb(encoding, height, width, step, bytes(length), max_pixels=4096 * 4096)


@pytest.mark.parametrize(("array", "encoding", "step"), [
    (np.zeros((3, 4), np.uint8), "mono8", 4),
    (np.zeros((3, 4, 3), np.uint8), "rgb8", 12),
    (np.zeros((3, 4), np.float32), "32FC1", 16),
])
def test_arrays_become_image_fields(array, encoding, step):
    assert array_to_image_fields(array)[:4] == (encoding, 3, 4, step)


def test_rgb_round_trips_through_image_fields():
    encoding, height, width, step, data = array_to_image_fields(RGB)
    assert np.array_equal(image_to_rgb(encoding, height, width, step, data), RGB)


# A smooth known image: demosaicing and chroma subsampling are exact or nearly so on it, and a
# wrong Bayer pattern or YUV byte order moves colours by far more than the tolerances below.
ROWS, COLUMNS = np.mgrid[0:48, 0:64]
KNOWN = np.dstack([COLUMNS * 4, ROWS * 5, (COLUMNS + ROWS) * 2]).astype(np.uint8)
GREY = cv2.cvtColor(KNOWN, cv2.COLOR_RGB2GRAY)
TOLERANCE = {"yuv422": 3, "yuv422_yuy2": 3, "nv21": 4}  # BT.601 rounding at 8 bit


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_encoding_round_trips_to_the_known_image(encoding):
    height, width, step, data = rgb_to_image_fields(KNOWN, encoding)
    rgb = image_to_rgb(encoding, height, width, step, data)
    assert rgb.shape == KNOWN.shape and rgb.dtype == np.uint8
    expected = np.dstack([GREY] * 3) if encoding.startswith("mono") else KNOWN
    error = np.abs(rgb.astype(int) - expected)
    if ENCODINGS[encoding].bayer:  # bilinear demosaicing is exact inside on a linear ramp
        assert error[2:-2, 2:-2].max() == 0 and error.max() <= 8
    else:
        assert error.max() <= TOLERANCE.get(encoding, 0)


@pytest.mark.parametrize(("encoding", "code"), [
    ("bayer_rggb8", cv2.COLOR_BayerBG2RGB), ("bayer_bggr8", cv2.COLOR_BayerRG2RGB),
    ("bayer_gbrg8", cv2.COLOR_BayerGR2RGB), ("bayer_grbg8", cv2.COLOR_BayerGB2RGB)])
def test_bayer_patterns_sample_the_colour_the_ros_name_gives_each_pixel(encoding, code):
    height, width, step, data = rgb_to_image_fields(KNOWN, encoding)
    mosaic = np.frombuffer(data, np.uint8).reshape(height, width)
    pattern = encoding.removeprefix("bayer_")[:4]
    for index, colour in enumerate(pattern):
        row, column = divmod(index, 2)
        assert np.array_equal(mosaic[row::2, column::2], KNOWN[row::2, column::2, "rgb".index(
            colour)])
    assert np.array_equal(image_to_rgb(encoding, height, width, step, data),
                          cv2.cvtColor(mosaic, code))


def test_yuv422_is_uyvy_and_yuy2_is_yuyv_as_opencv_reads_them():
    flat = np.full((2, 4, 3), (200, 40, 90), np.uint8)
    uyvy = cv2.cvtColor(flat, cv2.COLOR_RGB2YUV_UYVY)
    assert np.array_equal(image_to_rgb("yuv422", 2, 4, 8, uyvy.tobytes()),
                          cv2.cvtColor(uyvy, cv2.COLOR_YUV2RGB_UYVY))
    assert np.abs(image_to_rgb("yuv422_yuy2", 2, 4, 8, cv2.cvtColor(
        flat, cv2.COLOR_RGB2YUV_YUY2).tobytes()).astype(int) - flat).max() <= 2


@pytest.mark.parametrize("encoding", ["mono16", "bgr16", "bayer_grbg16", "nv21", "yuv422"])
def test_row_padding_is_skipped_in_every_layout(encoding):
    height, width, step, data = rgb_to_image_fields(KNOWN, encoding)
    rows = np.frombuffer(data, np.uint8).reshape(-1, step)
    padded_step, padded_data = padded(rows, 6)
    assert np.array_equal(image_to_rgb(encoding, height, width, padded_step, padded_data),
                          image_to_rgb(encoding, height, width, step, data))


def test_16_bit_samples_are_scaled_by_their_high_byte_in_either_byte_order():
    depth = np.array([[0, 255, 256, 65535]], np.uint16)
    little = image_to_rgb("mono16", 1, 4, 8, depth.astype("<u2").tobytes())
    big = image_to_rgb("mono16", 1, 4, 8, depth.astype(">u2").tobytes(), is_bigendian=1)
    assert little[0, :, 0].tolist() == [0, 0, 1, 255]
    assert np.array_equal(little, big)


@pytest.mark.parametrize("fmt", ["rgb8; png compressed bgr8", "png", "bgr8; png compressed bgr8"])
def test_png_compressed_images_decode_exactly(fmt):
    data = cv2.imencode(".png", KNOWN[:, :, ::-1])[1].tobytes()
    assert np.array_equal(compressed_to_rgb(fmt, data), KNOWN)


def test_compressed_rgb8_means_the_encoder_was_given_rgb_order():
    data = cv2.imencode(".png", KNOWN)[1].tobytes()  # RGB bytes written as they are
    assert np.array_equal(compressed_to_rgb("rgb8; png compressed rgb8", data), KNOWN)


def test_jpeg_and_16_bit_png_decode_like_their_raw_forms():
    fmt, data = rgb_to_compressed(KNOWN, "jpeg")
    assert fmt == "rgb8; jpeg compressed bgr8"
    assert np.abs(compressed_to_rgb(fmt, data).astype(int) - KNOWN).mean() < 2
    depth = (GREY.astype(np.uint16) * 257)
    png16 = cv2.imencode(".png", depth)[1].tobytes()
    assert np.array_equal(compressed_to_rgb("mono16; png compressed mono16", png16),
                          np.dstack([GREY] * 3))


@pytest.mark.parametrize(("fmt", "data", "message"), [
    ("jpeg", b"\xff\xd8\xff\xe0 not a jpeg at all", "cannot be decoded"),
    ("png", b"", "empty png data"),
    ("rgb8; tiff compressed bgr8", b"xx", "unsupported compressed format"),
    ("16UC1; compressedDepth png", b"xx", "compressedDepth is a depth image"),
    ("16UC1; png compressed ", b"xx", "16UC1; png is a depth image"),
])
def test_bad_compressed_images_are_rejected_with_the_reason(fmt, data, message):
    with pytest.raises(ImageConversionError, match=message):
        compressed_to_rgb(fmt, data)


def test_a_truncated_png_is_rejected():
    data = cv2.imencode(".png", KNOWN)[1].tobytes()
    with pytest.raises(ImageConversionError, match="cannot be decoded"):
        compressed_to_rgb("png", data[: len(data) // 2])


def test_compressed_images_larger_than_max_pixels_are_rejected():
    fmt, data = rgb_to_compressed(KNOWN, "png")
    with pytest.raises(ImageConversionError, match="exceeds max_pixels=100"):
        compressed_to_rgb(fmt, data, max_pixels=100)


def test_the_conversion_table_lists_every_encoding():
    table = conversion_table()
    assert all(f"| `{name}` |" in table for name in ENCODINGS)


def test_documented_conversion_table_is_generated_from_the_table():
    documentation = (Path(__file__).resolve().parents[2] / "docs" / "ros.md").read_text()
    assert conversion_table() in documentation


def test_conversion_bench_measures_every_input():
    results = measure(KNOWN, repeats=2)
    assert set(results) == set(COMPRESSED) | set(ENCODINGS)
    assert all(r["ms"] >= 0 and r["bytes"] > 0 for r in results.values())


def test_odd_sizes_are_refused_where_the_layout_needs_even_ones():
    with pytest.raises(ImageConversionError, match="nv21 needs an even height, got 47"):
        rgb_to_image_fields(KNOWN[:47], "nv21")


@pytest.mark.parametrize(("message", "kind"), [
    (SimpleNamespace(encoding="16UC1"), "16UC1"),
    (SimpleNamespace(encoding="32FC1"), "32FC1"),
    (SimpleNamespace(encoding="mono16"), None),
    (SimpleNamespace(format="16UC1; png compressed "), "16UC1; png"),
    (SimpleNamespace(format="32FC1; compressedDepth"), "compressedDepth"),
    (SimpleNamespace(format="16UC1; compressedDepth png"), "compressedDepth"),
    (SimpleNamespace(format="mono16; png compressed "), None),
    (SimpleNamespace(format="png"), None),
])
def test_depth_is_told_from_camera_frames_by_one_rule(message, kind):
    assert depth_kind(message) == kind


def test_a_16_bit_png_depth_map_is_refused_while_the_same_png_as_mono16_is_grey():
    depth = cv2.imencode(".png", (GREY.astype(np.uint16) * 257))[1].tobytes()
    with pytest.raises(DepthImageError, match=r"16UC1; png is a depth image"):
        compressed_to_rgb("16UC1; png compressed ", depth)
    assert compressed_to_rgb("mono16; png compressed ", depth).shape == (*GREY.shape, 3)
