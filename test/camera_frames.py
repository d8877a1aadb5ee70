"""Hand-built camera frames: a clean street-like scene and the same scene blurred, dark,
noisy, foggy or overexposed (image-evidence and calibration tests)."""

import cv2
import numpy as np


def street_scene(height: int = 256, width: int = 512) -> np.ndarray:
    """A clean, well-exposed RGB frame: flat patches of many grey levels with sharp edges (a
    camera's view of a street at the size the statistics work on)."""
    rng = np.random.default_rng(0)
    patches = rng.integers(0, 256, (height // 16, width // 16), dtype=np.uint8)
    grey = cv2.resize(patches, (width, height), interpolation=cv2.INTER_NEAREST)
    return np.repeat(grey[:, :, None], 3, axis=2)


def blurred(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), 4)


def dark(image: np.ndarray) -> np.ndarray:
    return (image * 0.06).astype(np.uint8)


def noisy(image: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(1).normal(0, 25, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def foggy(image: np.ndarray) -> np.ndarray:
    return (0.25 * image + 0.75 * 215).astype(np.uint8)  # an even, bright veil


def overexposed(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 2.5, 0, 255).astype(np.uint8)
