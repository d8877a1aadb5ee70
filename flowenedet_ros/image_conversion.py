"""Camera messages <-> numpy without cv_bridge (not on PyPI): one table of input encodings, row
padding, 16-bit scaling, Bayer demosaicing, YUV, and JPEG / PNG CompressedImage decoding.

Works on the messages' fields, so it is tested without ROS; the node and every bag command use
it (one conversion, whatever carried the frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import DepthImageError, ImageConversionError


@dataclass(frozen=True)
class Encoding:
    """How one sensor_msgs/Image encoding is stored and becomes (H, W, 3) uint8 RGB."""

    samples: int  # samples per pixel in a row (nv21: 1, the luma plane)
    bits: int  # 8 or 16; 16-bit samples are scaled to 8 bit (value >> 8) before anything else
    to_rgb: int | None  # OpenCV cvtColor code after scaling; None: already RGB
    from_rgb: int | None  # OpenCV code RGB -> this (writing bags); None: see bayer / nv21
    description: str  # the conversion table of docs/ros.md
    bayer: str = ""  # the colour filter pattern, top-left 2x2 read row by row
    chroma_rows: bool = False  # nv21: height / 2 rows of interleaved V/U follow the luma rows


def _bayer(pattern: str, bits: int, code: int) -> Encoding:
    return Encoding(1, bits, code, None, f"{pattern} Bayer mosaic, {bits}-bit: "
                    f"{'8 bit by value >> 8, ' if bits == 16 else ''}bilinear demosaic", pattern)


# OpenCV names a Bayer pattern by the 2x2 block at (1, 1), ROS by the one at (0, 0).
ENCODINGS: dict[str, Encoding] = {
    "rgb8": Encoding(3, 8, None, None, "as is (no copy without row padding)"),
    "bgr8": Encoding(3, 8, cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR, "channels reversed"),
    "rgba8": Encoding(4, 8, cv2.COLOR_RGBA2RGB, cv2.COLOR_RGB2RGBA, "alpha dropped"),
    "bgra8": Encoding(4, 8, cv2.COLOR_BGRA2RGB, cv2.COLOR_RGB2BGRA,
                      "channels reversed, alpha dropped"),
    "mono8": Encoding(1, 8, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY, "grey in all three channels"),
    "rgb16": Encoding(3, 16, None, None, "8 bit by value >> 8"),
    "bgr16": Encoding(3, 16, cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR,
                      "8 bit by value >> 8, channels reversed"),
    "rgba16": Encoding(4, 16, cv2.COLOR_RGBA2RGB, cv2.COLOR_RGB2RGBA,
                       "8 bit by value >> 8, alpha dropped"),
    "bgra16": Encoding(4, 16, cv2.COLOR_BGRA2RGB, cv2.COLOR_RGB2BGRA,
                       "8 bit by value >> 8, channels reversed, alpha dropped"),
    "mono16": Encoding(1, 16, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY,
                       "8 bit by value >> 8, grey in all three channels (depth in mm becomes "
                       "a dark image: 1 grey level per 256 mm)"),
    "bayer_rggb8": _bayer("RGGB", 8, cv2.COLOR_BayerBG2RGB),
    "bayer_bggr8": _bayer("BGGR", 8, cv2.COLOR_BayerRG2RGB),
    "bayer_gbrg8": _bayer("GBRG", 8, cv2.COLOR_BayerGR2RGB),
    "bayer_grbg8": _bayer("GRBG", 8, cv2.COLOR_BayerGB2RGB),
    "bayer_rggb16": _bayer("RGGB", 16, cv2.COLOR_BayerBG2RGB),
    "bayer_bggr16": _bayer("BGGR", 16, cv2.COLOR_BayerRG2RGB),
    "bayer_gbrg16": _bayer("GBRG", 16, cv2.COLOR_BayerGR2RGB),
    "bayer_grbg16": _bayer("GRBG", 16, cv2.COLOR_BayerGB2RGB),
    "yuv422": Encoding(2, 8, cv2.COLOR_YUV2RGB_UYVY, cv2.COLOR_RGB2YUV_UYVY,
                       "UYVY 4:2:2 (even width), BT.601 as OpenCV converts it"),
    "yuv422_yuy2": Encoding(2, 8, cv2.COLOR_YUV2RGB_YUY2, cv2.COLOR_RGB2YUV_YUY2,
                            "YUYV 4:2:2 (even width), BT.601 as OpenCV converts it"),
    "nv21": Encoding(1, 8, cv2.COLOR_YUV2RGB_NV21, None,
                     "Y plane then interleaved V/U at half resolution (even width and height; "
                     "`step` is the luma row), BT.601 as OpenCV converts it", chroma_rows=True),
}
COMPRESSED_CODECS = ("jpeg", "png")
# Depth maps, not camera frames: the model never sees them (mono16 stays a grey camera).
DEPTH_ENCODINGS = ("16UC1", "32FC1")
DEFAULT_MAX_PIXELS = 4096 * 4096


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: bytes | memoryview,
                 max_pixels: int = DEFAULT_MAX_PIXELS, is_bigendian: int = 0) -> np.ndarray:
    """An Image message's fields -> (H, W, 3) uint8 RGB (a copy only where needed).

    Raises ImageConversionError naming what is wrong and what is accepted."""
    spec = camera_encoding(encoding)
    _check_size(height, width, max_pixels)
    _check_evenness(encoding, spec, height, width)
    rows = height * 3 // 2 if spec.chroma_rows else height
    sample_bytes = spec.bits // 8
    pixels = _unpack(encoding, rows, width, step, data, spec.samples * sample_bytes)
    if sample_bytes == 2:
        samples = pixels.reshape(rows, width * spec.samples * 2).view(
            ">u2" if is_bigendian else "<u2")
        pixels = to_8_bit(samples).reshape(rows, width, spec.samples)
    return _convert(pixels, spec)


def camera_encoding(encoding: str) -> Encoding:
    """The table entry of a camera encoding; a depth encoding (16UC1, 32FC1) is refused with
    DepthImageError, anything else unknown with ImageConversionError."""
    if encoding in DEPTH_ENCODINGS:
        raise DepthImageError(depth_refusal(encoding))
    spec = ENCODINGS.get(encoding)
    if spec is None:
        raise ImageConversionError(f"unsupported encoding {encoding!r}; accepted: "
                                   f"{', '.join(ENCODINGS)}")
    return spec


def depth_refusal(kind: str) -> str:
    """The one line for a depth image where a camera frame is expected."""
    return (f"{kind} is a depth image, not a camera frame: the model needs a colour or grey "
            "camera (an encoding of the conversion table, or jpeg / png of one)")


def depth_kind(message) -> str | None:
    """What depth a sensor_msgs Image or CompressedImage carries (`16UC1`, `16UC1; png`,
    `compressedDepth`), or None for a camera frame."""
    if hasattr(message, "format"):
        return format_depth(message.format)
    return message.encoding if message.encoding in DEPTH_ENCODINGS else None


def format_depth(format: str) -> str | None:
    """The depth a CompressedImage format names, or None. The format starts with the encoding
    image_transport was given (`16UC1; png compressed`); compressedDepth is depth whatever it
    holds."""
    text = format.strip()
    if "compresseddepth" in text.lower().replace(" ", ""):
        return "compressedDepth"
    original, _, rest = text.partition(";")
    if original.strip() not in DEPTH_ENCODINGS:
        return None
    return f"{original.strip()}; {rest.split()[0] if rest.split() else 'compressed'}"


def to_8_bit(samples: np.ndarray) -> np.ndarray:
    """16-bit samples -> 8 bit by their high byte (value >> 8): a full-range camera keeps its
    look."""
    return (samples >> 8).astype(np.uint8)


def _check_evenness(encoding: str, spec: Encoding, height: int, width: int) -> None:
    """Bayer blocks and chroma samples cover 2 pixels per row (nv21: and 2 rows)."""
    if (spec.chroma_rows or spec.bayer or spec.samples == 2) and width % 2:
        raise ImageConversionError(f"{encoding} needs an even width, got {width}")
    if spec.chroma_rows and height % 2:
        raise ImageConversionError(f"{encoding} needs an even height, got {height}")


def _convert(pixels: np.ndarray, spec: Encoding) -> np.ndarray:
    """(rows, W, samples) uint8 -> (H, W, 3) RGB."""
    if spec.to_rgb is None:
        return pixels if pixels.flags.c_contiguous else np.ascontiguousarray(pixels)
    source = pixels[:, :, 0] if spec.samples == 1 else pixels
    return cv2.cvtColor(np.ascontiguousarray(source), spec.to_rgb)


def rgb_to_image_fields(rgb: np.ndarray, encoding: str) -> tuple[int, int, int, bytes]:
    """(H, W, 3) uint8 RGB -> (height, width, step, data) of `encoding`, rows unpadded, little
    endian; 16-bit samples are the 8-bit ones times 257 (so scaling back is exact)."""
    spec = ENCODINGS.get(encoding)
    if spec is None:
        raise ImageConversionError(f"cannot write encoding {encoding!r}; choose from "
                                   f"{', '.join(ENCODINGS)}")
    height, width = rgb.shape[:2]
    _check_evenness(encoding, spec, height, width)
    if spec.bayer:
        mosaic = np.empty((height, width), np.uint8)
        channel = {"R": 0, "G": 1, "B": 2}
        for index, colour in enumerate(spec.bayer):
            row, column = divmod(index, 2)
            mosaic[row::2, column::2] = rgb[row::2, column::2, channel[colour]]
        pixels = mosaic
    elif spec.chroma_rows:
        planes = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
        quarter = height // 2 * width // 2
        u = planes[height:].reshape(-1)[:quarter]
        v = planes[height:].reshape(-1)[quarter:]
        pixels = np.concatenate([planes[:height].reshape(-1),
                                 np.stack([v, u], axis=1).reshape(-1)]).reshape(-1, width)
    elif spec.from_rgb is None:
        pixels = rgb
    else:
        pixels = cv2.cvtColor(np.ascontiguousarray(rgb), spec.from_rgb)
    if spec.bits == 16:
        pixels = pixels.astype("<u2") * np.uint16(257)
    pixels = np.ascontiguousarray(pixels)
    return height, width, pixels.nbytes // pixels.shape[0], pixels.tobytes()


def compressed_to_rgb(format: str, data: bytes | memoryview,
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A CompressedImage's `format` and `data` -> (H, W, 3) uint8 RGB.

    `format` as image_transport writes it ("rgb8; jpeg compressed bgr8") or just "jpeg" / "png":
    the codec, and which channel order the encoder was given (bgr unless it says rgb)."""
    kind = format_depth(format)
    if kind is not None:
        raise DepthImageError(depth_refusal(kind))
    codec, stored = _parse_format(format)
    buffer = np.frombuffer(data, np.uint8)
    if buffer.size == 0:
        raise ImageConversionError(f"empty {codec} data")
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:
        raise ImageConversionError(f"{codec} data cannot be decoded ({error.err})") from None
    if pixels is None:
        raise ImageConversionError(f"{len(buffer)} bytes of {codec} data cannot be decoded "
                                   "(corrupt or not " + codec + ")")
    _check_size(pixels.shape[0], pixels.shape[1], max_pixels)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    order = "rgb" if stored.startswith("rgb") else "bgr"
    name = {1: "mono", 3: order, 4: order + "a"}.get(channels)
    bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype)
    if name is None or bits is None:
        raise ImageConversionError(f"{codec} image of {channels} {pixels.dtype} channels: "
                                   "not a colour or grey image")
    if bits == 16:
        pixels = to_8_bit(pixels)
    return _convert(pixels.reshape(pixels.shape[0], pixels.shape[1], channels),
                    ENCODINGS[f"{name}8"])


def _parse_format(format: str) -> tuple[str, str]:
    """(codec, encoding the encoder was given) of a CompressedImage format string."""
    text = format.strip().lower()
    after = text.split(";", 1)[-1].split()
    codec = next((word for word in after if word in (*COMPRESSED_CODECS, "jpg")), None)
    if codec is None:
        raise ImageConversionError(f"unsupported compressed format {format!r}; accepted: "
                                   f"{', '.join(COMPRESSED_CODECS)} (as image_transport writes "
                                   "them, e.g. 'rgb8; jpeg compressed bgr8')")
    stored = after[-1] if len(after) >= 3 and after[-2] == "compressed" else "bgr8"
    return ("jpeg" if codec == "jpg" else codec), stored


def rgb_to_compressed(rgb: np.ndarray, codec: str, jpeg_quality: int = 95) -> tuple[str, bytes]:
    """(H, W, 3) uint8 RGB -> (format, data) as image_transport's compressed publisher writes."""
    if codec not in COMPRESSED_CODECS:
        raise ImageConversionError(f"codec must be one of {', '.join(COMPRESSED_CODECS)}, "
                                   f"got {codec!r}")
    suffix, options = (".jpg", [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]) if codec == "jpeg" \
        else (".png", [])
    ok, data = cv2.imencode(suffix, np.ascontiguousarray(rgb[:, :, ::-1]), options)
    if not ok:
        raise ImageConversionError(f"OpenCV could not encode a {rgb.shape} image as {codec}")
    return f"rgb8; {codec} compressed bgr8", data.tobytes()


def message_to_rgb(message, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A sensor_msgs Image or CompressedImage (rclpy or rosbags) -> (H, W, 3) uint8 RGB."""
    if hasattr(message, "format"):
        return compressed_to_rgb(message.format, memoryview(message.data), max_pixels)
    return image_to_rgb(message.encoding, message.height, message.width, message.step,
                        memoryview(message.data), max_pixels, message.is_bigendian)


def describe_message(message) -> str:
    """`WxH 'encoding'` or `'format'`, for error lines."""
    if hasattr(message, "format"):
        return f"{len(message.data)} bytes {message.format!r}"
    return f"{message.width}x{message.height} {message.encoding!r}"


def _check_size(height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image {width}x{height}")
    if height * width > max_pixels:
        raise ImageConversionError(f"image {width}x{height} exceeds max_pixels={max_pixels}")


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


def conversion_table() -> str:
    """The table of accepted encodings in docs/ros.md."""
    lines = ["| encoding | conversion to RGB8 |", "|---|---|"]
    lines += [f"| `{name}` | {spec.description} |" for name, spec in ENCODINGS.items()]
    lines.append("| CompressedImage `jpeg`, `png` | decoded with OpenCV (8 or 16 bit, grey, "
                 "colour or with alpha), then as the raw encoding of the same layout |")
    return "\n".join(lines)
