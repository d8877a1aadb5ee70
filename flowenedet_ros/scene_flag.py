"""The "low-confidence scene" flag: pure Python, no ROS, so it is tested on its own.

Per frame, the fraction of pixels inside the region of interest whose uncertainty exceeds
`pixel_threshold` is compared with `scene_threshold`. The flag rises after `raise_frames`
consecutive frames above it and clears after `clear_frames` consecutive frames below it. It also
rises — immediately, whatever the hysteresis — when input goes stale (no frame for
`stale_timeout_s`) or inference fails: a safety monitor must never read "all fine" from silence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import ParameterError

REASON_CLEAR = "ok"
REASON_UNCERTAIN = "uncertain"
REASON_STALE = "stale_input"
REASON_ERROR = "inference_error"
REASON_STARTING = "no_frame_yet"


@dataclass(frozen=True)
class FlagConfig:
    pixel_threshold: float = 0.5  # a pixel is uncertain above this uncertainty
    scene_threshold: float = 0.05  # a frame is uncertain above this fraction of uncertain pixels
    raise_frames: int = 3  # consecutive uncertain frames before the flag rises
    clear_frames: int = 10  # consecutive certain frames before it clears
    roi: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1 as fractions
    stale_timeout_s: float = 1.0  # no frame for this long raises the flag

    def __post_init__(self) -> None:
        for name in ("pixel_threshold", "scene_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1], got {value}")
        for name in ("raise_frames", "clear_frames"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stale_timeout_s <= 0:
            raise ParameterError(f"stale_timeout_s must be > 0, got {self.stale_timeout_s}")
        if len(self.roi) != 4:
            raise ParameterError(f"roi must be [x0, y0, x1, y1], got {list(self.roi)}")
        x0, y0, x1, y1 = self.roi
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ParameterError("roi must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 "
                                 f"(fractions of width and height), got {list(self.roi)}")


@dataclass(frozen=True)
class FlagState:
    raised: bool
    reason: str  # one of the REASON_* values
    uncertain_fraction: float  # of the last frame; NaN before the first one


def roi_box(roi: tuple[float, float, float, float], height: int, width: int
            ) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) pixel bounds of a fractional ROI (at least one pixel)."""
    x0, y0, x1, y1 = roi
    top, left = min(int(y0 * height), height - 1), min(int(x0 * width), width - 1)
    bottom, right = max(int(np.ceil(y1 * height)), top + 1), max(int(np.ceil(x1 * width)), left + 1)
    return top, left, bottom, right


def uncertain_fraction(uncertainty: np.ndarray, config: FlagConfig) -> float:
    """Fraction of ROI pixels above `pixel_threshold` (the ROI keeps at least one pixel)."""
    top, left, bottom, right = roi_box(config.roi, *uncertainty.shape)
    region = uncertainty[top:bottom, left:right]
    return float(np.count_nonzero(region > config.pixel_threshold)) / region.size


class SceneFlag:
    """Hysteresis over per-frame decisions, plus stale-input and error overrides."""

    def __init__(self, config: FlagConfig, now: float) -> None:
        self.config = config
        self.last_frame_time = now
        self._raised_by_frames = False
        self._streak = 0  # consecutive frames disagreeing with the current hysteresis state
        self._error: str | None = None
        self._fraction = float("nan")
        self._seen_frame = False

    def reconfigure(self, **changes) -> FlagConfig:
        """Validate and apply new settings (ParameterError leaves the old ones in place)."""
        self.config = replace(self.config, **changes)
        return self.config

    def update(self, uncertainty: np.ndarray, now: float) -> FlagState:
        """A frame was served: its uncertainty map (H, W) in [0, 1]."""
        return self.update_fraction(uncertain_fraction(uncertainty, self.config), now)

    def update_fraction(self, fraction: float, now: float) -> FlagState:
        """A frame was served whose uncertain fraction (`uncertain_fraction`) is known."""
        self.last_frame_time = now
        self._seen_frame = True
        self._error = None
        self._fraction = fraction
        frame_uncertain = self._fraction > self.config.scene_threshold
        if frame_uncertain != self._raised_by_frames:
            self._streak += 1
            needed = (self.config.raise_frames if frame_uncertain else self.config.clear_frames)
            if self._streak >= needed:
                self._raised_by_frames, self._streak = frame_uncertain, 0
        else:
            self._streak = 0
        return self.state(now)

    def fail(self, message: str, now: float) -> FlagState:
        """A frame arrived but could not be served (bad input, inference error)."""
        self.last_frame_time = now
        self._error = message
        return self.state(now)

    def state(self, now: float) -> FlagState:
        if now - self.last_frame_time > self.config.stale_timeout_s:
            return FlagState(True, REASON_STALE, self._fraction)
        if self._error is not None:
            return FlagState(True, REASON_ERROR, self._fraction)
        if not self._seen_frame:
            return FlagState(True, REASON_STARTING, self._fraction)
        if self._raised_by_frames:
            return FlagState(True, REASON_UNCERTAIN, self._fraction)
        return FlagState(False, REASON_CLEAR, self._fraction)
