import numpy as np
import pytest

from flowenedet_ros.errors import ImageConversionError
from flowenedet_ros.image_conversion import array_to_image_fields, image_to_rgb

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
    ("16UC1", 4, 5, 10, 40, "unsupported encoding '16UC1'"),
    ("bayer_rggb8", 4, 5, 5, 20, "unsupported encoding 'bayer_rggb8'"),
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
