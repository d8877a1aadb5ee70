"""Choose the reason's thresholds (anomaly components, scene) from replayed bags of three kinds.

- in-distribution bags: every frame should read `none`;
- degraded bags (fog, noise, glare; no objects): every frame should read `scene`;
- anomaly bags: frames with anomaly pixels should read `object`, the others `none` (an anomaly
  bag without labels counts every frame as `object`).
The pixel threshold is the flag's (chosen first). Then, per frame, the uncertain regions that
could become components (their area and drivable border) are read once, and
1. the component settings (min area, max area, min drivable border, min ROI overlap; the ROI is
   the flag's) are chosen from a grid to
   find a component on the most object frames while finding one on at most `false_objects` of the
   other frames, in-distribution and degraded (a false `object` may make a vehicle brake; ties:
   the larger min area, then the larger min border and ROI overlap); when no setting stays within
   it, the one with the fewest;
2. with those components, each scene statistic (uncertain fraction outside components, mean
   uncertainty) gets the threshold with the best Youden's J (degraded frames above it minus the
   others above it) among those that at most `false_scenes` / 2 of the frames that are not
   degraded exceed (a false `scene` may hand the vehicle over; the two statistics together stay
   within `false_scenes`), halfway between the two frame values it separates.
Without anomaly bags the component settings stay as given; without degraded bags the scene ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.errors import DataError

from ..anomaly_components import ComponentConfig, find_components
from ..frame_reason import NONE, OBJECT, SCENE, ReasonConfig, reason_from
from .label_metrics import anomaly_pixels
from .reader import BagSource
from .records import DEFAULT_NODE, LABEL_KIND_KEY, image_array, output_topics, stamp_ns

MIN_AREAS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)
MAX_AREAS = (0.05, 0.1, 0.15, 0.2, 0.3)
FALSE_OBJECTS = 0.05  # default share of non-object frames allowed to show a component
FALSE_SCENES = 0.05  # default share of frames that are not degraded allowed to read scene
MIN_BORDERS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)
MIN_ROI_OVERLAPS = (0.0, 0.2, 0.4, 0.6)
COMPONENT_SETTINGS = ("component_min_area", "component_max_area",
                      "component_min_drivable_border", "component_min_roi_overlap")


@dataclass
class FrameStatistics:
    """What the reason needs of one frame, for any component setting in the grid."""

    expected: str  # none / object / scene
    areas: np.ndarray  # fractions of the frame, of every region of at least MIN_AREAS[0]
    borders: np.ndarray  # their drivable border shares
    rois: np.ndarray  # their shares inside the ROI
    uncertain: float  # uncertain fraction of the frame
    mean: float  # mean uncertainty


@dataclass(frozen=True)
class ReasonChoice:
    values: dict  # the chosen parameters (node names)
    accuracy: float  # frames whose reason is the expected one, with these settings
    confusion: dict[str, dict[str, int]]  # expected -> given -> frames
    frames: dict[str, int]  # expected -> frames


def read_frames(path: str | Path, role: str, pixel_threshold: float,
                roi: tuple[float, float, float, float], node: str = DEFAULT_NODE
                ) -> list[FrameStatistics]:
    """Per-frame statistics of a replayed bag; `role` is inlier, degraded or anomaly."""
    topics = output_topics(node)
    wanted = {topics["uncertainty"]: "uncertainty", topics["segmentation"]: "labels"}
    config = ComponentConfig(pixel_threshold, min_area=MIN_AREAS[0], max_area=1.0,
                             min_drivable_border=0.0, roi=tuple(roi))
    with BagSource(path) as source:
        missing = set(wanted) - set(source.contents.topics)
        if missing:
            raise DataError(f"{path}: no {', '.join(sorted(missing))}; calibrate reads bags "
                            "written by `flowenedet replay`")
        label_topic = next((key.removeprefix(LABEL_KIND_KEY) for key, kind
                            in source.contents.custom.items()
                            if key.startswith(LABEL_KIND_KEY) and kind == "anomaly"), None)
        if label_topic:
            wanted[label_topic] = "truth"
        frames: dict[int, dict[str, np.ndarray]] = {}
        for item in tqdm(source.messages(set(wanted)), desc=Path(path).name, unit="msg",
                         leave=False):
            frames.setdefault(stamp_ns(item.message.header), {})[wanted[item.topic]] = \
                image_array(item.message)
    statistics = []
    for stamp in sorted(frames):
        frame = frames[stamp]
        if "uncertainty" not in frame or "labels" not in frame:
            continue
        found = find_components(frame["uncertainty"], frame["labels"], config)
        statistics.append(FrameStatistics(
            _expected(role, frame.get("truth")),
            np.asarray([c.area / found.frame_pixels for c in found.components]),
            np.asarray([c.drivable_border for c in found.components]),
            np.asarray([c.roi_overlap for c in found.components]),
            found.uncertain_pixels / found.frame_pixels, found.mean_uncertainty))
    if not statistics:
        raise DataError(f"{path}: no frame with both uncertainty and segmentation")
    return statistics


def _expected(role: str, truth: np.ndarray | None) -> str:
    if role == "inlier":
        return NONE
    if role == "degraded":
        return SCENE
    if truth is None:
        return OBJECT
    return OBJECT if (anomaly_pixels(truth) & (truth != IGNORE_INDEX)).any() else NONE


def _objects(frames: list[FrameStatistics], min_area: float, max_area: float,
             min_border: float, min_roi: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: has a component; uncertain fraction outside components."""
    has, spread = np.zeros(len(frames), bool), np.zeros(len(frames))
    for index, frame in enumerate(frames):
        passing = ((frame.areas >= min_area) & (frame.areas <= max_area)
                   & (frame.borders >= min_border) & (frame.rois >= min_roi))
        has[index] = passing.any()
        spread[index] = frame.uncertain - frame.areas[passing].sum()
    return has, spread


def budget_threshold(values: np.ndarray, positive: np.ndarray, budget: float) -> float:
    """The threshold t (value > t is positive) with the best J among those at most `budget` of
    the negatives exceed, halfway between the two values it falls between."""
    ordered = np.unique(values)
    candidates = np.concatenate([(ordered[:-1] + ordered[1:]) / 2, ordered[-1:]])
    above = values[None, :] > candidates[:, None]
    negative_rate = above[:, ~positive].mean(1) if (~positive).any() else np.zeros(len(above))
    positive_rate = above[:, positive].mean(1) if positive.any() else np.zeros(len(above))
    score = np.where(negative_rate <= budget, positive_rate - negative_rate, -np.inf)
    return float(candidates[int(np.argmax(score))])


def choose_reason(frames: list[FrameStatistics], values: dict,
                  false_objects: float = FALSE_OBJECTS, false_scenes: float = FALSE_SCENES
                  ) -> ReasonChoice:
    """The reason parameters for these frames, starting from the node parameter `values`."""
    expected = np.asarray([f.expected for f in frames])
    chosen = dict(values)
    is_object = expected == OBJECT
    if is_object.any():
        def key(settings: tuple[float, float, float, float]) -> tuple:
            has = _objects(frames, *settings)[0]
            false = float(has[~is_object].mean()) if (~is_object).any() else 0.0
            within = false <= false_objects
            return (within, float(has[is_object].mean()) if within else -false,
                    settings[0], settings[2], settings[3])

        best = max(itertools.product(MIN_AREAS, MAX_AREAS, MIN_BORDERS, MIN_ROI_OVERLAPS),
                   key=key)
        chosen.update(zip(COMPONENT_SETTINGS, best, strict=True))
    settings = tuple(chosen[name] for name in COMPONENT_SETTINGS)
    _, spread = _objects(frames, *settings)
    is_scene = expected == SCENE
    if is_scene.any():
        chosen["reason_scene_fraction"] = round(
            budget_threshold(spread, is_scene, false_scenes / 2), 6)
        means = np.asarray([f.mean for f in frames])
        chosen["reason_scene_mean"] = round(
            budget_threshold(means, is_scene, false_scenes / 2), 6)
    config = ReasonConfig(ComponentConfig(chosen["pixel_threshold"], *settings,
                                          roi=tuple(chosen["roi"])),
                          chosen["reason_scene_fraction"], chosen["reason_scene_mean"])
    given = reasons(frames, config)
    confusion: dict[str, dict[str, int]] = {}
    for wanted, kind in zip(expected, given, strict=True):
        row = confusion.setdefault(str(wanted), {})
        row[kind] = row.get(kind, 0) + 1
    names = (*COMPONENT_SETTINGS, "reason_scene_fraction", "reason_scene_mean")
    return ReasonChoice({name: chosen[name] for name in names},
                        float(np.mean(expected == np.asarray(given))), confusion,
                        {str(k): int(v) for k, v in zip(*np.unique(expected, return_counts=True),
                                                        strict=True)})


def reasons(frames: list[FrameStatistics], config: ReasonConfig) -> list[str]:
    """The reason of every frame under `config` (its pixel threshold must be the frames')."""
    components = config.components
    has, spread = _objects(frames, components.min_area, components.max_area,
                           components.min_drivable_border, components.min_roi_overlap)
    return [reason_from(bool(has_object), float(outside), frame.mean, config)
            for frame, has_object, outside in zip(frames, has, spread, strict=True)]
