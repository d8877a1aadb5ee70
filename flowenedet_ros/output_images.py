"""The derived output images (colour segmentation, OOD mask, anomaly instances): numpy only,
shared by the node and offline replay."""

from __future__ import annotations

import numpy as np

from flowenedet_core.cityscapes_classes import CITYSCAPES_PALETTE
from flowenedet_core.data.transforms import resize_nearest

_PALETTE = np.zeros((256, 3), np.uint8)
_PALETTE[:len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE


def colorize(labels: np.ndarray) -> np.ndarray:
    """Train ids (H, W) -> Cityscapes colours (H, W, 3); unknown ids are black."""
    return _PALETTE[labels]


def ood_mask(uncertainty: np.ndarray, threshold: float) -> np.ndarray:
    """255 where uncertainty > threshold, else 0 (mono8)."""
    return np.where(uncertainty > threshold, np.uint8(255), np.uint8(0))


def resize_instances(instances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Model-size uint16 instance ids -> the frame's (H, W), sampled as the pipeline samples the
    labels (`resize_nearest`), so instances and labels line up pixel for pixel."""
    if instances.shape == tuple(shape):
        return instances
    return resize_nearest(instances, shape)
