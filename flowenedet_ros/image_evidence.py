"""Image-quality evidence of one camera frame, from the image alone (no model): pure numpy +
OpenCV, so the node, replay, calibration and the real-frame study compute the same numbers.

The frame is subsampled (nearest, so the sensor's noise is kept) to `WORK_WIDTH` pixels wide,
turned grey, and cut into `TILES` (rows, columns); per tile:
- `sharpness`: standard deviation of the Laplacian (grey levels / 255): blur (motion, defocus,
  a wet lens), fog and low contrast lower it;
- `focus`: the same relative to the tile's RMS contrast (+ `FOCUS_FLOOR`): blur lowers it whatever
  the scene's own contrast, fog and low contrast hardly (they scale both alike);
- `contrast`: RMS contrast, the standard deviation of the grey levels (/ 255): fog, haze, glare
  and low-contrast exposure lower it;
- `dark` / `saturated`: shares of pixels at most `DARK_LEVEL` / at least `SATURATED_LEVEL`
  (night, an underexposed or blinded camera);
- `noise`: mean absolute residual after a 3x3 median filter (/ 255): sensor noise raises it.
Frame values summarise the tiles robustly: sharpness, focus and contrast are the upper quartile
of the tiles (flat sky or road tiles are low in any clean frame; a degraded camera lowers them all),
noise the lower quartile (textured tiles have a residual without any noise; flat ones only have
noise), dark and saturated the shares of the whole frame.

A frame is `degraded` when any frame value crosses its threshold (`EvidenceConfig`; every test
is off by default and `flowenedet calibrate` chooses them from clean and corrupted frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ParameterError

WORK_WIDTH = 512  # the statistics are computed on a grey frame about this wide
TILES = (4, 8)  # rows, columns of the per-tile maps
DARK_LEVEL = 16  # grey level (0-255) at or below which a pixel is dark
SATURATED_LEVEL = 250  # and at or above which it is saturated
FOCUS_FLOOR = 0.02  # added to the RMS contrast under the focus ratio (flat tiles)
MAX_FOCUS = 10.0  # the focus ratio's threshold range is [0, MAX_FOCUS]; the others' [0, 1]
STATISTICS = ("sharpness", "focus", "contrast", "dark", "saturated", "noise")
# which way each statistic degrades: a frame is degraded below a "low" threshold, above a "high"
DIRECTION = {"sharpness": "low", "focus": "low", "contrast": "low", "dark": "high",
             "saturated": "high", "noise": "high"}
_QUANTILE = {"sharpness": 0.75, "focus": 0.75, "contrast": 0.75, "noise": 0.25}


@dataclass(frozen=True)
class EvidenceConfig:
    """Thresholds on the frame values; the defaults never fire."""

    min_sharpness: float = 0.0
    min_focus: float = 0.0
    min_contrast: float = 0.0
    max_dark: float = 1.0
    max_saturated: float = 1.0
    max_noise: float = 1.0

    def __post_init__(self) -> None:
        for name in STATISTICS:
            value, top = self.threshold(name), MAX_FOCUS if name == "focus" else 1.0
            if not 0.0 <= value <= top:
                raise ParameterError(f"image_{'min' if DIRECTION[name] == 'low' else 'max'}_"
                                     f"{name} must be in [0, {top:g}], got {value}")

    def threshold(self, statistic: str) -> float:
        return getattr(self, f"{'min' if DIRECTION[statistic] == 'low' else 'max'}_{statistic}")


@dataclass(frozen=True)
class ImageEvidence:
    """Frame values and (rows, columns) tile maps of the STATISTICS."""

    values: dict[str, float]
    maps: dict[str, np.ndarray]

    def failing(self, config: EvidenceConfig) -> tuple[str, ...]:
        """The statistics past their threshold (empty: the image looks fine)."""
        return failing(self.values, config)

    def degraded(self, config: EvidenceConfig) -> bool:
        return bool(self.failing(config))


def failing(values: dict[str, float], config: EvidenceConfig) -> tuple[str, ...]:
    """The statistics of frame `values` past their threshold in `config`."""
    return tuple(name for name in STATISTICS
                 if (values[name] < config.threshold(name) if DIRECTION[name] == "low"
                     else values[name] > config.threshold(name)))


def grey_frame(image: np.ndarray) -> np.ndarray:
    """(h, w) uint8 grey of an (H, W, 3) RGB or (H, W) grey uint8 frame, subsampled to about
    WORK_WIDTH wide (nearest: the noise of the sensor survives), whole tiles."""
    if image.ndim not in (2, 3) or image.dtype != np.uint8:
        raise ValueError(f"image evidence takes (H, W[, 3]) uint8 frames, got {image.shape} "
                         f"{image.dtype}")
    step = max(1, round(image.shape[1] / WORK_WIDTH))
    rows, columns = TILES
    height = image.shape[0] // step // rows * rows
    width = image.shape[1] // step // columns * columns
    if height == 0 or width == 0:
        raise ValueError(f"a {image.shape[1]}x{image.shape[0]} frame is too small for "
                         f"{columns}x{rows} tiles")
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
    return small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def _tiles(values: np.ndarray) -> np.ndarray:
    """(rows, columns) tile means of an (h, w) float32 map of whole tiles."""
    rows, columns = TILES
    return cv2.resize(values, (columns, rows), interpolation=cv2.INTER_AREA)


def image_evidence(image: np.ndarray) -> ImageEvidence:
    """The evidence of one RGB (or grey) uint8 frame."""
    grey = grey_frame(image)
    level = grey.astype(np.float32) * (1 / 255)
    mean = _tiles(level)
    contrast = np.sqrt(np.maximum(_tiles(level * level) - mean * mean, 0.0))
    laplacian = cv2.Laplacian(level, cv2.CV_32F)
    sharpness = np.sqrt(np.maximum(_tiles(laplacian * laplacian) - _tiles(laplacian) ** 2, 0.0))
    residual = np.abs(level - cv2.medianBlur(grey, 3).astype(np.float32) * (1 / 255))
    maps = {"sharpness": sharpness, "focus": sharpness / (contrast + FOCUS_FLOOR),
            "contrast": contrast,
            "dark": _tiles((grey <= DARK_LEVEL).astype(np.float32)),
            "saturated": _tiles((grey >= SATURATED_LEVEL).astype(np.float32)),
            "noise": _tiles(residual)}
    values = {name: float(np.quantile(maps[name], _QUANTILE[name])) if name in _QUANTILE
              else float(maps[name].mean()) for name in STATISTICS}
    return ImageEvidence(values, maps)
