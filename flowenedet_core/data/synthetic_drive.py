"""A synthetic drive: stretches of street (clear, with unknown objects on the road, in light or
heavy fog), each a new street driven forward at a constant speed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .synthetic import Frame, Street, apply_shift


@dataclass(frozen=True)
class Stretch:
    name: str
    frames: int
    anomalies: int = 0  # out-of-distribution objects on the road
    shift: str | None = None
    severity: float = 0.0

    @property
    def expect_flag(self) -> bool:
        """Should a good detector raise the low-confidence flag here?"""
        return self.anomalies > 0 or self.degraded

    @property
    def degraded(self) -> bool:
        """Weather or sensor trouble heavy enough to collapse segmentation."""
        return self.shift is not None and self.severity >= 0.8

    @property
    def expected_reason(self) -> str:
        """What a frame of this stretch should be flagged as: object, scene, object+scene or
        none (the words of flowenedet_ros.frame_reason)."""
        if self.anomalies > 0:
            return "object+scene" if self.degraded else "object"
        return "scene" if self.degraded else "none"


# The demo drive: flag down on the clear and light-fog stretches, up on the anomaly stretches and
# in heavy fog (where segmentation collapses).
DEMO_DRIVE = (
    Stretch("clear", 20), Stretch("anomaly", 12, anomalies=2), Stretch("clear", 16),
    Stretch("light fog", 16, shift="fog", severity=0.3), Stretch("clear", 12),
    Stretch("heavy fog", 16, shift="fog", severity=0.95), Stretch("clear", 16),
    Stretch("anomaly", 12, anomalies=2), Stretch("clear", 16),
)


def drive(stretches: tuple[Stretch, ...] = DEMO_DRIVE, seed: int = 0,
          size: tuple[int, int] = (256, 512), metres_per_frame: float = 1.0
          ) -> Iterator[tuple[int, Frame]]:
    """(stretch index, frame) for every frame of the drive, deterministic from `seed`."""
    rng = np.random.default_rng(seed)
    for index, stretch in enumerate(stretches):
        street = Street(int(rng.integers(1 << 30)), stretch.anomalies)
        for step in range(stretch.frames):
            frame, depth = street.render(size, step * metres_per_frame)
            image = apply_shift(frame.image, depth, stretch.shift, stretch.severity,
                                seed + step)
            yield index, Frame(image, frame.labels, frame.anomaly)
