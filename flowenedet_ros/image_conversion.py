"""sensor_msgs/Image <-> numpy without cv_bridge (not on PyPI): encodings, row padding, checks.

Works on the message's fields, so it is tested without ROS and used by the node and bag replay.
"""

from __future__ import annotations

import numpy as np

from .errors import ImageConversionError

# encoding -> (channels, channel order as RGB indices or None for grey)
INPUT_ENCODINGS: dict[str, tuple[int, tuple[int, ...] | None]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, None),
}
DEFAULT_MAX_PIXELS = 4096 * 4096


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: bytes | memoryview,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An Image message's fields -> (H, W, 3) uint8 RGB (a copy only where needed).

    Raises ImageConversionError naming what is wrong and what is accepted."""
    if encoding not in INPUT_ENCODINGS:
        raise ImageConversionError(f"unsupported encoding {encoding!r}; accepted: "
                                   f"{', '.join(INPUT_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image {width}x{height}")
    if height * width > max_pixels:
        raise ImageConversionError(f"image {width}x{height} exceeds max_pixels={max_pixels}")
    channels, order = INPUT_ENCODINGS[encoding]
    pixels = _unpack(encoding, height, width, step, data, channels)
    if order is None:
        return np.repeat(pixels, 3, axis=2)
    if order == (0, 1, 2) and channels == 3 and step == width * 3:
        return pixels  # a view of the message data, no copy
    return np.ascontiguousarray(pixels[:, :, list(order)])


# the encodings the node publishes -> (bytes per pixel, numpy dtype, channels)
OUTPUT_ENCODINGS: dict[str, tuple[int, str, int]] = {
    "mono8": (1, "u1", 1), "rgb8": (3, "u1", 3), "32FC1": (4, "<f4", 1),
    "mono16": (2, "<u2", 1)}


def image_to_array(encoding: str, height: int, width: int, step: int,
                   data: bytes | memoryview, is_bigendian: int = 0) -> np.ndarray:
    """An output Image's fields (mono8 labels or masks, rgb8, 32FC1 uncertainty, mono16
    instances) -> (H, W) or (H, W, 3) array: the inverse of `array_to_image_fields`."""
    if encoding not in OUTPUT_ENCODINGS:
        raise ImageConversionError(f"expected one of {', '.join(OUTPUT_ENCODINGS)}, "
                                   f"got {encoding!r}")
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image {width}x{height}")
    pixel_bytes, dtype, channels = OUTPUT_ENCODINGS[encoding]
    if is_bigendian and pixel_bytes > 1:
        dtype = dtype.replace("<", ">")
    rows = _unpack(encoding, height, width, step, data, pixel_bytes)
    array = np.ascontiguousarray(rows).view(dtype).astype(dtype.lstrip("<>"), copy=False)
    return array.reshape(height, width, channels) if channels > 1 else \
        array.reshape(height, width)


def _unpack(encoding: str, height: int, width: int, step: int, data: bytes | memoryview,
            channels: int) -> np.ndarray:
    """(H, W, channels) uint8 view of row-padded data, after checking step and length."""
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageConversionError(f"step {step} is shorter than a row of {width} {encoding} "
                                   f"pixels ({row_bytes} bytes)")
    needed = step * (height - 1) + row_bytes
    if len(data) < needed:
        raise ImageConversionError(f"data has {len(data)} bytes, a {width}x{height} {encoding} "
                                   f"image with step {step} needs {needed}")
    buffer = np.frombuffer(data, dtype=np.uint8, count=needed)
    rows = np.lib.stride_tricks.as_strided(buffer, (height, row_bytes), (step, 1))
    return rows.reshape(height, width, channels)


def array_to_image_fields(array: np.ndarray) -> tuple[str, int, int, int, bytes]:
    """(H, W) uint8 -> mono8, (H, W, 3) uint8 -> rgb8, (H, W) float32 -> 32FC1,
    (H, W) uint16 -> mono16:
    (encoding, height, width, step, data), rows unpadded, little endian."""
    if array.dtype == np.uint8 and array.ndim == 2:
        encoding = "mono8"
    elif array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        encoding = "rgb8"
    elif array.dtype == np.float32 and array.ndim == 2:
        encoding = "32FC1"
        array = array.astype("<f4", copy=False)
    elif array.dtype == np.uint16 and array.ndim == 2:
        encoding = "mono16"
        array = array.astype("<u2", copy=False)
    else:
        raise ImageConversionError(f"no image encoding for a {array.dtype} array of shape "
                                   f"{array.shape}")
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return encoding, height, width, array.strides[0], array.tobytes()
