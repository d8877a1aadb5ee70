"""The derived output images (colour segmentation, OOD mask, anomaly instances): numpy only,
shared by the node and offline replay."""

from __future__ import annotations

import cv2
import numpy as np

from flowenedet_core.cityscapes_classes import CITYSCAPES_PALETTE

_PALETTE = np.zeros((256, 3), np.uint8)
_PALETTE[:len(CITYSCAPES_PALETTE)] = CITYSCAPES_PALETTE


def colorize(labels: np.ndarray) -> np.ndarray:
    """Train ids (H, W) -> Cityscapes colours (H, W, 3); unknown ids are black."""
    return _PALETTE[labels]


def ood_mask(uncertainty: np.ndarray, threshold: float) -> np.ndarray:
    """255 where uncertainty > threshold, else 0 (mono8)."""
    return np.where(uncertainty > threshold, np.uint8(255), np.uint8(0))


def resize_instances(instances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Model-size uint16 instance ids -> the frame's (H, W), nearest neighbour."""
    if instances.shape == tuple(shape):
        return instances
    return cv2.resize(instances, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
