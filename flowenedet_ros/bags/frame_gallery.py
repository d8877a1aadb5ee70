"""The few frames a replay report shows: the most and the least confident ones, kept as small
thumbnails while the replay streams on (a drive does not fit in memory)."""

from __future__ import annotations

import heapq

import cv2
import numpy as np

THUMBNAIL_WIDTH = 480


def thumbnail(array: np.ndarray) -> np.ndarray:
    height, width = array.shape[:2]
    if width <= THUMBNAIL_WIDTH:
        return array.copy()
    size = (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width)))
    interpolation = cv2.INTER_AREA if array.dtype == np.float32 or array.ndim == 3 \
        else cv2.INTER_NEAREST
    return cv2.resize(array, size, interpolation=interpolation)


class FrameGallery:
    """`offer` every frame; keeps the `count` highest and `count` lowest uncertain fractions."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._highest: list[tuple] = []  # min-heap of (fraction, index, panels)
        self._lowest: list[tuple] = []  # min-heap of (-fraction, -index, panels)

    def offer(self, index: int, fraction: float, image: np.ndarray,
              outputs: dict[str, np.ndarray]) -> None:
        if self.count <= 0:
            return
        panels = None
        for heap, key in ((self._highest, (fraction, index)), (self._lowest, (-fraction, -index))):
            if len(heap) < self.count or key > heap[0][:2]:
                if panels is None:
                    panels = {"input": thumbnail(image),
                              **{name: thumbnail(array) for name, array in outputs.items()}}
                entry = (*key, panels)
                if len(heap) < self.count:
                    heapq.heappush(heap, entry)
                else:
                    heapq.heapreplace(heap, entry)

    def least_confident(self) -> list[tuple[int, float, dict[str, np.ndarray]]]:
        return [(index, fraction, panels)
                for fraction, index, panels in sorted(self._highest, key=lambda e: e[:2],
                                                      reverse=True)]

    def most_confident(self) -> list[tuple[int, float, dict[str, np.ndarray]]]:
        return [(-index, -fraction, panels)
                for fraction, index, panels in sorted(self._lowest, key=lambda e: e[:2],
                                                      reverse=True)]
