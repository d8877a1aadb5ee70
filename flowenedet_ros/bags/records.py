"""Bag-side messages (rosbags dataclasses, CDR) <-> numpy, and the topic names replay writes.

The output topics are those of a node named `flowenedet_node`, so a replayed bag and one recorded
from the live node hold the same topics and downstream tools read either."""

from __future__ import annotations

import numpy as np
from rosbags.typesys import Stores, get_typestore

from ..image_conversion import (
    COMPRESSED_CODECS,
    array_to_image_fields,
    image_to_array,
    rgb_to_compressed,
    rgb_to_image_fields,
)

# Image, Bool, String and DiagnosticArray are identical from Humble to Kilted.
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_TYPES = (IMAGE, COMPRESSED_IMAGE)  # what a camera topic may carry
BOOL = "std_msgs/msg/Bool"
STRING = "std_msgs/msg/String"
DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"

DEFAULT_NODE = "/flowenedet_node"
OUTPUT_TYPES = {"segmentation": IMAGE, "segmentation/color": IMAGE, "uncertainty": IMAGE,
                "ood_mask": IMAGE, "low_confidence": BOOL, "low_confidence/reason": STRING,
                "ood_instances": IMAGE, "diagnostics": DIAGNOSTIC_ARRAY}
LABEL_KINDS = ("anomaly", "semantic")  # 0/1/255 anomaly masks | Cityscapes train ids
LABEL_KIND_KEY = "flowenedet.label_kind."  # + topic, in the bag's custom_data
# a replayed bag names the bag and camera topic it was replayed from (calibration reads the
# camera frames there for the image evidence)
SOURCE_BAG_KEY = "flowenedet.source_bag"
SOURCE_CAMERA_KEY = "flowenedet.source_camera"


def output_topics(node: str = DEFAULT_NODE) -> dict[str, str]:
    """Output name -> fully qualified topic of the node `node` (diagnostics: /diagnostics)."""
    return {name: "/diagnostics" if name == "diagnostics" else f"{node.rstrip('/')}/{name}"
            for name in OUTPUT_TYPES}


def anomaly_label_topic(custom: dict[str, str]) -> str | None:
    """The topic of a bag's 0/1/255 anomaly masks, from its custom_data (None: it has none)."""
    return next((key.removeprefix(LABEL_KIND_KEY) for key, kind in custom.items()
                 if key.startswith(LABEL_KIND_KEY) and kind == "anomaly"), None)


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def header(stamp: int, frame_id: str):
    types = TYPESTORE.types
    return types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 1_000_000_000,
                                                   nanosec=stamp % 1_000_000_000),
        frame_id=frame_id)


def image_record(array: np.ndarray, stamp: int, frame_id: str):
    """(H, W) uint8 / (H, W, 3) uint8 / (H, W) float32 -> a rosbags sensor_msgs/Image."""
    encoding, height, width, step, data = array_to_image_fields(array)
    return _image(encoding, height, width, step, data, stamp, frame_id)


def _image(encoding: str, height: int, width: int, step: int, data: bytes, stamp: int,
           frame_id: str):
    return TYPESTORE.types[IMAGE](header=header(stamp, frame_id), height=height, width=width,
                                  encoding=encoding, is_bigendian=0, step=step,
                                  data=np.frombuffer(data, np.uint8))


def camera_record(rgb: np.ndarray, encoding: str, stamp: int, frame_id: str):
    """(H, W, 3) uint8 RGB -> an Image of any table encoding, or with `encoding` jpeg / png a
    CompressedImage as image_transport writes it."""
    if encoding in COMPRESSED_CODECS:
        fmt, data = rgb_to_compressed(rgb, encoding)
        return TYPESTORE.types[COMPRESSED_IMAGE](header=header(stamp, frame_id), format=fmt,
                                                 data=np.frombuffer(data, np.uint8))
    return _image(encoding, *rgb_to_image_fields(rgb, encoding), stamp, frame_id)


def bool_record(value: bool):
    return TYPESTORE.types[BOOL](data=bool(value))


def string_record(value: str):
    return TYPESTORE.types[STRING](data=value)


def diagnostic_record(stamp: int, name: str, hardware_id: str, level: int, text: str,
                      values: dict[str, object]):
    types = TYPESTORE.types
    status = types["diagnostic_msgs/msg/DiagnosticStatus"](
        level=level, name=name, message=text, hardware_id=hardware_id,
        values=[types["diagnostic_msgs/msg/KeyValue"](key=k, value=str(v))
                for k, v in values.items()])
    return types[DIAGNOSTIC_ARRAY](header=header(stamp, ""), status=[status])


def image_array(message) -> np.ndarray:
    """A mono8 / rgb8 / 32FC1 Image (rosbags or rclpy) -> its array."""
    return image_to_array(message.encoding, message.height, message.width, message.step,
                          memoryview(message.data), message.is_bigendian)


def serialize(message) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(message, message.__msgtype__))


def deserialize(data: bytes | memoryview, msgtype: str):
    return TYPESTORE.deserialize_cdr(data, msgtype)
