"""Prediction -> ROS messages (sensor_msgs/Image, std_msgs/Bool, diagnostic_msgs)."""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from .image_conversion import array_to_image_fields


def image_message(array: np.ndarray, header: Header) -> Image:
    encoding, height, width, step, data = array_to_image_fields(array)
    return Image(header=header, height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=step, data=data)


def diagnostic_array(stamp, name: str, hardware_id: str, level: int, message: str,
                     values: dict[str, object]) -> DiagnosticArray:
    status = DiagnosticStatus(level=bytes([level]), name=name, message=message,
                              hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array
