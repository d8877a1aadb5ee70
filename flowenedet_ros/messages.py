"""Prediction -> ROS messages (sensor_msgs/Image, std_msgs/Bool, diagnostic_msgs)."""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from flowenedet_core.cityscapes_classes import CITYSCAPES_PALETTE

from .image_conversion import array_to_image_fields

_PALETTE = np.zeros((256, 3), np.uint8)
_PALETTE[:len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE


def image_message(array: np.ndarray, header: Header) -> Image:
    encoding, height, width, step, data = array_to_image_fields(array)
    return Image(header=header, height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=step, data=data)


def colorize(labels: np.ndarray) -> np.ndarray:
    """Train ids (H, W) -> Cityscapes colours (H, W, 3); unknown ids are black."""
    return _PALETTE[labels]


def ood_mask(uncertainty: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(uncertainty > threshold, np.uint8(255), np.uint8(0))


def diagnostic_array(stamp, name: str, hardware_id: str, level: bytes, message: str,
                     values: dict[str, object]) -> DiagnosticArray:
    status = DiagnosticStatus(level=level, name=name, message=message,
                              hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array
