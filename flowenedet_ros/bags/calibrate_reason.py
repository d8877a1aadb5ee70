"""Choose the reason's thresholds (anomaly components, scene, image evidence) from replayed bags
of three kinds.

- in-distribution bags: every frame should read `none`;
- degraded bags (fog, noise, blur, low contrast; no objects): every frame should read `scene`;
- anomaly bags: frames with anomaly pixels should read `object`, the others `none` (an anomaly
  bag without labels counts every frame as `object`).
The pixel threshold is the flag's (chosen first). Per frame, the uncertain regions that could
become components are described once (drivable border, ROI share, width share, box fill, border
contrast and, with a `meta_classifier`, whether it keeps them), and the image evidence is computed
from the camera frames of the bag that was replayed (its path is in the replayed bag's
custom_data; without it the image thresholds stay as given). Then
1. the component settings (min area, min drivable border, min ROI overlap, max width, min fill,
   min border contrast; the ROI is the flag's; no upper area limit) are chosen from a grid to find
   a component on the most object frames while finding one on at most `false_objects` of the
   other frames, in-distribution and degraded (a false `object` may make a vehicle brake; ties:
   the larger min area, the stricter border and ROI tests, the *wider* max width — the
   calibration objects are mostly far and small, and size must not decide what they cannot
   teach — then the stricter fill and border contrast); when no setting stays within it, the one
   with the fewest;
2. with those components, the scene thresholds — the five image statistics (image_evidence) and
   the model's spread (uncertain fraction outside components, mean uncertainty) — are chosen
   together, greedily: each step sets the one threshold that makes `scene` right on the most
   degraded frames while `scene` stays false on at most `false_scenes` of the frames that are
   not degraded (a false `scene` may hand the vehicle over), halfway between the two frame
   values it separates (ties: the widest gap between them, on a log scale, so the statistic
   that separates with the widest margin is taken), until no threshold adds a degraded frame;
   then each statistic left unset gets the threshold that catches the most degraded frames
   without reading `scene` on any further frame that is not degraded (a second witness, so that
   a camera on which one statistic shifts still reads its degraded frames).
Without anomaly bags the component settings stay as given; without degraded bags the scene ones.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.errors import DataError, FlowenedetError
from flowenedet_core.metrics.meta_classifier import MetaClassifier

from ..anomaly_components import ComponentConfig, candidate_probabilities, describe_candidates
from ..frame_reason import NONE, OBJECT, SCENE, ReasonConfig, reason_from
from ..image_conversion import message_to_rgb
from ..image_evidence import DIRECTION, STATISTICS, EvidenceConfig, failing, image_evidence
from .label_metrics import anomaly_pixels
from .reader import BagSource
from .records import (
    DEFAULT_NODE,
    SOURCE_BAG_KEY,
    SOURCE_CAMERA_KEY,
    anomaly_label_topic,
    image_array,
    output_topics,
    stamp_ns,
)

LOGGER = logging.getLogger(__name__)
MIN_AREAS = (0.0005, 0.001, 0.002, 0.005, 0.01)
MIN_BORDERS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)
MIN_ROI_OVERLAPS = (0.0, 0.2, 0.4, 0.6)
MAX_WIDTHS = (0.25, 0.4, 0.6, 0.8, 1.0)
MIN_FILLS = (0.0, 0.2, 0.35, 0.5)
MIN_BORDER_CONTRASTS = (0.0, 0.1, 0.2, 0.3)
FALSE_OBJECTS = 0.05  # default share of non-object frames allowed to show a component
FALSE_SCENES = 0.05  # default share of frames that are not degraded allowed to read scene
COMPONENT_SETTINGS = ("component_min_area", "component_min_drivable_border",
                      "component_min_roi_overlap", "component_max_width", "component_min_fill",
                      "component_min_border_contrast")
# the fields of the candidate table, in COMPONENT_SETTINGS order (then the meta classifier's keep)
_COLUMNS = ("area", "drivable_border", "roi_overlap", "width_share", "fill", "border_contrast")
_AT_MOST = {"width_share"}  # the setting is an upper limit of these
# scene statistics: (parameter, direction, value "off")
SCENE_SETTINGS = {**{name: (f"image_{'min' if DIRECTION[name] == 'low' else 'max'}_{name}",
                            DIRECTION[name]) for name in STATISTICS},
                  "spread": ("reason_scene_fraction", "high"),
                  "mean": ("reason_scene_mean", "high")}


@dataclass
class FrameStatistics:
    """What the reason needs of one frame, for any component setting in the grid."""

    expected: str  # none / object / scene
    candidates: np.ndarray  # (regions, len(_COLUMNS)) of every region of at least MIN_AREAS[0]
    kept: np.ndarray  # (regions,) bool: the meta classifier keeps it (all True without one)
    uncertain: float  # uncertain fraction of the frame
    mean: float  # mean uncertainty
    evidence: dict[str, float] | None = None  # image evidence frame values (None: no image)


@dataclass(frozen=True)
class ReasonChoice:
    values: dict  # the chosen parameters (node names)
    accuracy: float  # frames whose reason is the expected one, with these settings
    confusion: dict[str, dict[str, int]]  # expected -> given -> frames
    frames: dict[str, int]  # expected -> frames


def read_frames(path: str | Path, role: str, pixel_threshold: float,
                roi: tuple[float, float, float, float], node: str = DEFAULT_NODE,
                classifier: MetaClassifier | None = None) -> list[FrameStatistics]:
    """Per-frame statistics of a replayed bag; `role` is inlier, degraded or anomaly."""
    topics = output_topics(node)
    wanted = {topics["uncertainty"]: "uncertainty", topics["segmentation"]: "labels"}
    with BagSource(path) as source:
        missing = set(wanted) - set(source.contents.topics)
        if missing:
            raise DataError(f"{path}: no {', '.join(sorted(missing))}; calibrate reads bags "
                            "written by `flowenedet replay`")
        custom = source.contents.custom
        label_topic = anomaly_label_topic(custom)
        if label_topic:
            wanted[label_topic] = "truth"
        frames: dict[int, dict[str, np.ndarray]] = {}
        for item in tqdm(source.messages(set(wanted)), desc=Path(path).name, unit="msg",
                         leave=False):
            frames.setdefault(stamp_ns(item.message.header), {})[wanted[item.topic]] = \
                image_array(item.message)
    evidence = camera_evidence(path, custom.get(SOURCE_BAG_KEY), custom.get(SOURCE_CAMERA_KEY))
    statistics = []
    for stamp in sorted(frames):
        frame = frames[stamp]
        if "uncertainty" not in frame or "labels" not in frame:
            continue
        found = describe_candidates(frame["uncertainty"], frame["labels"], pixel_threshold,
                                    MIN_AREAS[0], tuple(roi))
        table = np.asarray([[getattr(c, name) for name in _COLUMNS] for c in found.components],
                           np.float64).reshape(-1, len(_COLUMNS))
        table[:, 0] /= found.frame_pixels
        kept = np.ones(len(table), bool) if classifier is None else (
            candidate_probabilities(found, classifier, frame["uncertainty"], frame["labels"],
                                    pixel_threshold) >= classifier.threshold)
        statistics.append(FrameStatistics(
            _expected(role, frame.get("truth")), table, kept,
            found.uncertain_pixels / found.frame_pixels, found.mean_uncertainty,
            evidence.get(stamp)))
    if not statistics:
        raise DataError(f"{path}: no frame with both uncertainty and segmentation")
    return statistics


def camera_evidence(path: str | Path, source: str | None, camera: str | None
                    ) -> dict[int, dict[str, float]]:
    """Image evidence of each camera frame (by stamp) of the bag `path` was replayed from; empty
    (with a warning) when that bag is not named or not there."""
    if not source or not camera or not Path(source).exists():
        LOGGER.warning("%s: the bag it was replayed from (%s) is not readable; its frames have "
                       "no image evidence", path, source or "not recorded")
        return {}
    values = {}
    with BagSource(source) as bag:
        for item in tqdm(bag.messages({camera}), desc=f"{Path(source).name} image evidence",
                         unit="frame", leave=False):
            try:
                image = message_to_rgb(item.message, 1 << 28)
            except FlowenedetError:
                continue  # replay failed this frame too: it has no uncertainty
            values[stamp_ns(item.message.header)] = image_evidence(image).values
    return values


def _expected(role: str, truth: np.ndarray | None) -> str:
    if role == "inlier":
        return NONE
    if role == "degraded":
        return SCENE
    if truth is None:
        return OBJECT
    return OBJECT if (anomaly_pixels(truth) & (truth != IGNORE_INDEX)).any() else NONE


class _Candidates:
    """Every frame's candidates in one table, so a component setting is judged at once."""

    def __init__(self, frames: list[FrameStatistics]) -> None:
        self.count = len(frames)
        self.table = np.concatenate([f.candidates for f in frames]) if frames else \
            np.zeros((0, len(_COLUMNS)))
        self.kept = np.concatenate([f.kept for f in frames]) if frames else np.zeros(0, bool)
        self.frame = np.repeat(np.arange(len(frames)), [len(f.candidates) for f in frames])
        self.uncertain = np.asarray([f.uncertain for f in frames])

    def objects(self, settings: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per frame: has a component; uncertain fraction outside components."""
        passing = self.kept.copy()
        for column, (name, value) in enumerate(zip(_COLUMNS, settings, strict=True)):
            passing &= (self.table[:, column] <= value) if name in _AT_MOST else \
                (self.table[:, column] >= value)
        frames = self.frame[passing]
        has = np.bincount(frames, minlength=self.count) > 0
        inside = np.bincount(frames, weights=self.table[passing, 0], minlength=self.count)
        return has, self.uncertain - inside


def choose_components(frames: list[FrameStatistics], false_objects: float
                      ) -> tuple[float, ...]:
    """The component setting of the grid that finds the most object frames within the budget
    of false objects (module docstring)."""
    candidates = _Candidates(frames)
    is_object = np.asarray([f.expected == OBJECT for f in frames])

    def key(settings: tuple[float, ...]) -> tuple:
        has = candidates.objects(settings)[0]
        false = float(has[~is_object].mean()) if (~is_object).any() else 0.0
        within = false <= false_objects
        return (within, float(has[is_object].mean()) if within else -false, settings[0],
                settings[1], settings[2], settings[3], settings[4], settings[5])

    return max(itertools.product(MIN_AREAS, MIN_BORDERS, MIN_ROI_OVERLAPS, MAX_WIDTHS,
                                 MIN_FILLS, MIN_BORDER_CONTRASTS), key=key)


def _scene_statistics(frames: list[FrameStatistics], spread: np.ndarray) -> dict[str, np.ndarray]:
    """Per scene statistic, its value on each frame (NaN: no image evidence; never fires)."""
    values = {name: np.asarray([f.evidence[name] if f.evidence else np.nan for f in frames])
              for name in STATISTICS}
    values.update(spread=spread, mean=np.asarray([f.mean for f in frames]))
    return values


def _fires(values: np.ndarray, direction: str, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return values < threshold if direction == "low" else values > threshold


def choose_scene(statistics: dict[str, np.ndarray], is_scene: np.ndarray, budget: float,
                 start: dict[str, float]) -> dict[str, float]:
    """Scene thresholds (statistic -> threshold), chosen greedily and together (module
    docstring); `start`: each statistic's threshold before (its "off" value in practice)."""
    chosen = dict(start)
    fired = {name: _fires(values, SCENE_SETTINGS[name][1], chosen[name])
             for name, values in statistics.items()}
    while True:
        best, best_key = None, (float(np.any(list(fired.values()), axis=0)[is_scene].mean()),
                                0.0, np.inf)
        for name, values in statistics.items():
            direction = SCENE_SETTINGS[name][1]
            others = np.any([f for other, f in fired.items() if other != name], axis=0)
            ordered = np.unique(values[np.isfinite(values)])
            if not len(ordered):
                continue
            # the gap each midpoint sits in, on a log scale: the wider, the safer the margin
            gaps = np.diff(np.log(ordered + 1e-4))
            for threshold, gap in zip((ordered[:-1] + ordered[1:]) / 2, gaps, strict=True):
                union = others | _fires(values, direction, threshold)
                false = float(union[~is_scene].mean()) if (~is_scene).any() else 0.0
                if false > budget:
                    continue
                key = (float(union[is_scene].mean()), -false, float(gap))
                if key > best_key:
                    best, best_key = (name, float(threshold)), key
        if best is None:
            return _redundant(statistics, is_scene, chosen, fired, start)
        chosen[best[0]] = round(best[1], 6)
        fired[best[0]] = _fires(statistics[best[0]], SCENE_SETTINGS[best[0]][1], chosen[best[0]])


def _redundant(statistics: dict[str, np.ndarray], is_scene: np.ndarray,
               chosen: dict[str, float], fired: dict[str, np.ndarray],
               start: dict[str, float]) -> dict[str, float]:
    """Each statistic the greedy steps left unset gets the threshold that, alone, reads `scene`
    on the most degraded frames without reading it on any frame that is not degraded and does
    not already (ties: the widest gap): a second witness for frames another statistic already
    catches, so that a camera on which one statistic shifts (a sharper lens, a darker street)
    still reads its degraded frames."""
    allowed = np.any(list(fired.values()), axis=0) | is_scene
    for name, values in statistics.items():
        if chosen[name] != start[name]:
            continue
        direction = SCENE_SETTINGS[name][1]
        ordered = np.unique(values[np.isfinite(values)])
        best, best_key = None, (0.0, 0.0)
        for threshold, gap in zip((ordered[:-1] + ordered[1:]) / 2,
                                  np.diff(np.log(ordered + 1e-4)), strict=True):
            fires = _fires(values, direction, threshold)
            if (fires & ~allowed).any():
                continue
            key = (float(fires[is_scene].mean()), float(gap))
            if key > best_key:
                best, best_key = float(threshold), key
        if best is not None:
            chosen[name] = round(best, 6)
    return chosen


def choose_reason(frames: list[FrameStatistics], values: dict,
                  false_objects: float = FALSE_OBJECTS, false_scenes: float = FALSE_SCENES
                  ) -> ReasonChoice:
    """The reason parameters for these frames, starting from the node parameter `values`."""
    expected = np.asarray([f.expected for f in frames])
    chosen = dict(values)
    if (expected == OBJECT).any():
        chosen.update(zip(COMPONENT_SETTINGS, choose_components(frames, false_objects),
                          strict=True))
    settings = tuple(chosen[name] for name in COMPONENT_SETTINGS)
    _, spread = _Candidates(frames).objects(settings)
    is_scene = expected == SCENE
    if is_scene.any():
        statistics = _scene_statistics(frames, spread)
        thresholds = choose_scene(statistics, is_scene, false_scenes,
                                  {name: chosen[SCENE_SETTINGS[name][0]] for name in statistics})
        chosen.update({SCENE_SETTINGS[name][0]: value for name, value in thresholds.items()})
    config = reason_settings(chosen)
    given = reasons(frames, config)
    confusion: dict[str, dict[str, int]] = {}
    for wanted, kind in zip(expected, given, strict=True):
        row = confusion.setdefault(str(wanted), {})
        row[kind] = row.get(kind, 0) + 1
    names = (*COMPONENT_SETTINGS, *(setting for setting, _ in SCENE_SETTINGS.values()))
    return ReasonChoice({name: chosen[name] for name in names},
                        float(np.mean(expected == np.asarray(given))), confusion,
                        {str(k): int(v) for k, v in zip(*np.unique(expected, return_counts=True),
                                                        strict=True)})


def reason_settings(values: dict) -> ReasonConfig:
    """The ReasonConfig of parameter `values` (calibration's names)."""
    return ReasonConfig(
        ComponentConfig(values["pixel_threshold"], values["component_min_area"],
                        values["component_min_drivable_border"],
                        values["component_min_roi_overlap"], tuple(values["roi"]),
                        values["component_max_width"], values["component_min_fill"],
                        values["component_min_border_contrast"]),
        values["reason_scene_fraction"], values["reason_scene_mean"],
        EvidenceConfig(*(values[SCENE_SETTINGS[name][0]] for name in STATISTICS)))


def reasons(frames: list[FrameStatistics], config: ReasonConfig) -> list[str]:
    """The reason of every frame under `config` (its pixel threshold must be the frames')."""
    components = config.components
    has, spread = _Candidates(frames).objects(
        (components.min_area, components.min_drivable_border, components.min_roi_overlap,
         components.max_width, components.min_fill, components.min_border_contrast))
    return [reason_from(bool(has_object), float(outside), frame.mean,
                        bool(frame.evidence and failing(frame.evidence, config.evidence)),
                        config)
            for frame, has_object, outside in zip(frames, has, spread, strict=True)]
