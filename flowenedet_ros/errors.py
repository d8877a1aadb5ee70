"""Exceptions of flowenedet_ros: each names the topic, field or parameter at fault."""

from flowenedet_core.errors import FlowenedetError


class ImageConversionError(FlowenedetError):
    """A sensor_msgs/Image cannot be turned into an RGB frame (encoding, size, data length)."""


class DepthImageError(ImageConversionError):
    """A depth image (16UC1 / 32FC1, raw or PNG, or compressedDepth) where a camera frame is
    expected."""


class ParameterError(FlowenedetError):
    """A node parameter value is out of its valid range."""
