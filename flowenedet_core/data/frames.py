"""A handful of frames for timing and for stand-in cameras: image files or seeded noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .datasets import IMAGE_SUFFIXES
from .transforms import read_rgb, resize_image


def image_paths(directory: str | Path) -> list[Path]:
    """Every image file under `directory`, recursively, sorted; DataError when there is none."""
    paths = sorted(p for p in Path(directory).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {directory}")
    return paths


def load_frames(directory: str | Path | None, count: int, size: tuple[int, int] | None = None,
                seed: int = 0) -> tuple[list[np.ndarray], str]:
    """Up to `count` frames: image files under `directory` (recursively, sorted), resized to
    `size` when given, or seeded random frames (`size`, default 480x640) when `directory` is
    None. Returns (frames, where they came from)."""
    if directory is None:
        generator = np.random.default_rng(seed)
        height, width = size or (480, 640)
        frames = [generator.integers(0, 256, (height, width, 3), dtype=np.uint8)
                  for _ in range(count)]
        return frames, "random"
    frames = [read_rgb(p) for p in image_paths(directory)[:count]]
    return [resize_image(f, size) for f in frames] if size else frames, str(directory)
