"""Anomaly components: connected regions of uncertain pixels that could be an object on the road.

Pure numpy + OpenCV on the model-size maps, so the node, offline replay, calibration and the
real-frame study compute the same thing. A pixel is uncertain above `pixel_threshold`; 8-connected
uncertain regions are found by OpenCV, and a region of at least `min_area` of the frame (smaller
ones are noise) is an anomaly component when it is *bounded*, whatever its size (a near object may
fill a third of the frame):
- by the drivable region: at least `min_drivable_border` of its outer border (the pixels one step
  outside it) is predicted road or sidewalk — something lying on the road is bordered by road,
  whereas uncertain facades, sky and vegetation are not — and at least `min_roi_overlap` of its
  pixels lie inside the ROI (the road ahead);
- by its own shape: its box spans at most `max_width` of the frame's width (uncertainty smeared
  over a degraded scene runs from side to side) and it fills at least `min_fill` of its box (an
  object is compact; the uncertain pixels of a degraded scene are thin and scattered);
- by its own edges: its mean uncertainty exceeds that of its outer border by at least
  `min_border_contrast` (an object stands out of what surrounds it; uncertainty that fades out
  into its surroundings does not).
With a component meta classifier (flowenedet_core.metrics.meta_classifier, fitted by
`flowenedet fit-meta`), a component must also be kept by it: its features are computed for all
the components that pass the tests above in one batch.
Only regions of at least `min_area` are looked at pixel by pixel, each in its box, so the cost
stays near that of the connected-components pass itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flowenedet_core.metrics.meta_classifier import MetaClassifier, component_features

from .errors import ParameterError
from .scene_flag import roi_box

# Cityscapes train ids a vehicle can drive (or an object can lie) on: road, sidewalk. Parking and
# rail track are void in the 19 train ids.
DRIVABLE_CLASSES = (0, 1)
_DRIVABLE = np.zeros(256, bool)
_DRIVABLE[list(DRIVABLE_CLASSES)] = True
_RING = np.ones((3, 3), np.uint8)
MAX_INSTANCES = 65535  # ids of the mono16 instance image


@dataclass(frozen=True)
class ComponentConfig:
    pixel_threshold: float = 0.5  # a pixel is uncertain above this uncertainty
    min_area: float = 0.0005  # smallest component, fraction of the frame's pixels
    min_drivable_border: float = 0.5  # share of the component's outer border that is drivable
    min_roi_overlap: float = 0.0  # share of the component's pixels inside the ROI
    roi: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1 fractions
    max_width: float = 1.0  # widest box, fraction of the frame's width
    min_fill: float = 0.0  # share of its box the component covers
    min_border_contrast: float = 0.0  # mean uncertainty inside minus on its outer border

    def __post_init__(self) -> None:
        for name in ("pixel_threshold", "min_area", "min_drivable_border", "min_roi_overlap",
                     "max_width", "min_fill", "min_border_contrast"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1], got {value}")

    def passes(self, component: Component) -> bool:
        """The tests of a described candidate, its meta classifier's aside."""
        return (component.drivable_border >= self.min_drivable_border
                and component.roi_overlap >= self.min_roi_overlap
                and component.width_share <= self.max_width and component.fill >= self.min_fill
                and component.border_contrast >= self.min_border_contrast)


@dataclass(frozen=True)
class Component:
    """One anomaly component, in model-size pixels."""

    box: tuple[int, int, int, int]  # x, y, width, height
    area: int  # pixels
    mean_uncertainty: float
    max_uncertainty: float
    drivable_border: float  # share of its outer border that is drivable
    roi_overlap: float  # share of its pixels inside the ROI
    width_share: float  # its box's width, fraction of the frame's width
    fill: float  # share of its box it covers
    border_contrast: float  # mean uncertainty inside minus on its outer border


@dataclass(frozen=True)
class Components:
    """The anomaly components of one frame (largest first) and what the reason needs besides."""

    components: tuple[Component, ...]
    frame_pixels: int
    uncertain_pixels: int  # all uncertain pixels of the frame
    component_pixels: int  # of them, inside the anomaly components
    mean_uncertainty: float  # over the whole frame
    labels: np.ndarray  # (H, W) int32 OpenCV labels of the uncertain regions
    ids: np.ndarray  # OpenCV label of each component, in the order of `components`

    @property
    def spread_fraction(self) -> float:
        """Uncertain pixels outside the anomaly components, as a fraction of the frame."""
        return (self.uncertain_pixels - self.component_pixels) / self.frame_pixels

    def instances(self) -> np.ndarray:
        """(H, W) uint16 instance ids: 0 = none, k = the k-th component (largest first)."""
        lookup = np.zeros(int(self.labels.max()) + 1, np.uint16)
        count = min(len(self.ids), MAX_INSTANCES)
        lookup[self.ids[:count]] = np.arange(1, count + 1, dtype=np.uint16)
        return lookup[self.labels]


def find_components(uncertainty: np.ndarray, labels: np.ndarray, config: ComponentConfig,
                    classifier: MetaClassifier | None = None) -> Components:
    """Anomaly components of one frame: uncertainty (H, W) in [0, 1], predicted train ids (H, W)
    of the same size; `classifier`: a component meta classifier whose keep decision is also
    needed."""
    candidates = describe_candidates(uncertainty, labels, config.pixel_threshold,
                                     config.min_area, config.roi)
    passing = [index for index, component in enumerate(candidates.components)
               if config.passes(component)]
    if classifier is not None and passing:
        probabilities = candidate_probabilities(candidates, classifier, uncertainty, labels,
                                                config.pixel_threshold, passing)
        passing = [index for index, p in zip(passing, probabilities, strict=True)
                   if p >= classifier.threshold]
    kept = tuple(candidates.components[index] for index in passing)
    return Components(kept, candidates.frame_pixels, candidates.uncertain_pixels,
                      sum(c.area for c in kept), candidates.mean_uncertainty, candidates.labels,
                      candidates.ids[passing])


def candidate_probabilities(candidates: Components, classifier: MetaClassifier,
                            uncertainty: np.ndarray, labels: np.ndarray, pixel_threshold: float,
                            which: list[int] | None = None) -> np.ndarray:
    """The meta classifier's object probability of candidates `which` (all: None), one batch;
    `pixel_threshold`: the one the candidates were cut out at."""
    ids = candidates.ids if which is None else candidates.ids[which]
    if not len(ids):
        return np.zeros(0)
    stats = np.zeros((int(candidates.labels.max()) + 1, 5), np.int64)
    for region, component in zip(candidates.ids, candidates.components, strict=True):
        stats[region] = (*component.box, component.area)
    return classifier.probabilities(component_features(candidates.labels, stats, ids,
                                                       uncertainty, labels, pixel_threshold))


def describe_candidates(uncertainty: np.ndarray, labels: np.ndarray, pixel_threshold: float,
                        min_area: float, roi: tuple[float, float, float, float]) -> Components:
    """Every uncertain region of at least `min_area` of the frame, described, none tested (the
    components of the result are the candidates, largest first)."""
    if uncertainty.shape != labels.shape or uncertainty.ndim != 2:
        raise ValueError(f"uncertainty {uncertainty.shape} and labels {labels.shape} must be the "
                         "same (H, W)")
    height, width = uncertainty.shape
    frame_pixels = height * width
    mask = (uncertainty > pixel_threshold).view(np.uint8)
    # BBDT: about twice as fast as OpenCV's default (Spaghetti) here, the same components
    _, regions, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_BBDT)
    areas = stats[1:, cv2.CC_STAT_AREA]
    candidates = 1 + np.flatnonzero(areas >= min_area * frame_pixels)
    box = roi_box(roi, height, width)
    found = sorted(((int(region), _describe(int(region), stats[region], regions, uncertainty,
                                            labels, box))
                    for region in candidates), key=lambda item: -item[1].area)
    return Components(tuple(c for _, c in found), frame_pixels, int(areas.sum()),
                      sum(c.area for _, c in found), float(uncertainty.mean()), regions,
                      np.asarray([r for r, _ in found], np.int64))


def _describe(region: int, stat: np.ndarray, regions: np.ndarray, uncertainty: np.ndarray,
              labels: np.ndarray, roi: tuple[int, int, int, int]) -> Component:
    """One candidate region, looked at inside its box grown by the one-pixel border."""
    x, y, w, h = (int(v) for v in stat[:4])
    height, width = regions.shape
    area = int(stat[cv2.CC_STAT_AREA])
    top, left = max(y - 1, 0), max(x - 1, 0)
    bottom, right = min(y + h + 1, height), min(x + w + 1, width)
    inside = regions[top:bottom, left:right] == region
    roi_top, roi_left = max(roi[0] - top, 0), max(roi[1] - left, 0)
    in_roi = cv2.countNonZero(inside[roi_top:max(roi[2] - top, roi_top),
                                     roi_left:max(roi[3] - left, roi_left)].view(np.uint8))
    border = cv2.dilate(inside.view(np.uint8), _RING).view(bool) & ~inside
    ring = cv2.countNonZero(border.view(np.uint8))
    drivable = cv2.countNonZero((_DRIVABLE[labels[top:bottom, left:right]] & border
                                 ).view(np.uint8))
    values = uncertainty[top:bottom, left:right]
    inner = values[inside]
    mean = float(inner.mean())
    outer = float(values[border].mean()) if ring else mean
    return Component((x, y, w, h), area, mean, float(inner.max()),
                     drivable / ring if ring else 0.0, in_roi / area, w / width, area / (w * h),
                     mean - outer)
