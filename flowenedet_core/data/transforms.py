"""Image and label resizing with OpenCV (no torchvision), and reading images as RGB uint8."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path} (missing, truncated or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label(path: str | Path) -> np.ndarray:
    """A single-channel label PNG as (H, W) uint8, unchanged values."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DataError(f"cannot read label {path} (missing, truncated or not an image)")
    if label.ndim == 3:
        label = label[..., 0]
    return label.astype(np.uint8)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (H, W, 3) uint8 image to size=(height, width); no-op when equal.

    Antialiased when shrinking, like PIL's bilinear filter (the one published results used);
    OpenCV's INTER_LINEAR samples without a low-pass filter and shifts the metrics.
    """
    if image.shape[:2] == tuple(size):
        return image
    # writable: frames decoded from messages are read-only views, which torch warns about
    tensor = torch.from_numpy(np.require(image, requirements=["C", "W"]))
    tensor = tensor.permute(2, 0, 1)[None].float()
    resized = F.interpolate(tensor, size=tuple(size), mode="bilinear", align_corners=False,
                            antialias=True)
    return resized[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def resize_label(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) label map to size=(height, width)."""
    if label.shape[:2] == tuple(size):
        return label
    # NEAREST_EXACT samples pixel centres, as PIL's nearest filter does.
    return cv2.resize(label, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)


def resize_nearest(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) map, sampling source pixel floor((i + 0.5) * in /
    out) exactly as torch's `nearest-exact` does, so that the host path and the GPU path
    (runtime.frame_graph) label a frame alike. OpenCV's INTER_NEAREST_EXACT (twice as fast) is
    exact for whole-number enlargements only and rounds some coordinates of other scales
    differently in fixed point."""
    if all(out % source == 0 for source, out in zip(labels.shape[:2], size, strict=True)):
        return cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)
    rows, columns = (np.minimum(((np.arange(out) + 0.5) * (source / out)).astype(np.int64),
                                source - 1)
                     for source, out in zip(labels.shape[:2], size, strict=True))
    return np.take(np.take(labels, rows, axis=0), columns, axis=1)


def parse_size(text: str) -> tuple[int, int]:
    """'512x1024' -> (512, 1024) as (height, width)."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise DataError(f"size {text!r} is not HEIGHTxWIDTH, e.g. 512x1024") from error
    if height <= 0 or width <= 0:
        raise DataError(f"size {text!r} must be positive")
    return height, width
