"""The derived output images (colour segmentation, OOD mask): numpy only, shared by the node and
offline replay."""

from __future__ import annotations

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
