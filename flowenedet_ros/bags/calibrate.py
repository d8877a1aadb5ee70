"""Choose pixel_threshold, scene_threshold and raise_frames from replayed bags.

Constraint: the scene flag's false-alarm rate on in-distribution bags (flagged frames / frames)
stays below `target`. The flag rises when `raise_frames` consecutive frames exceed
scene_threshold and stays up for at least `clear_frames` frames, so a per-window rate of
target / clear_frames keeps the per-frame rate below target. scene_threshold is an order statistic
of the in-distribution window statistics (the smallest uncertain fraction of each run of
`raise_frames` frames), chosen so that for frames exchangeable with the calibration ones the rate
of new windows above it stays below that per-window rate with 95 % probability, whatever the score
distribution (a training-conditional conformal bound). With too few frames for the target the
largest statistic is used, and the rate it does guarantee is reported instead of the target.

Objective, on labelled anomaly bags: the fraction of frames with anomaly pixels on which the
(simulated) flag is up; ties go to fewer raise_frames (a faster flag), then to the OOD mask's
pixel F1. Without anomaly bags pixel_threshold and raise_frames stay as given.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.errors import DataError

from ..pipeline_factory import flag_config
from ..scene_flag import SceneFlag, uncertain_fraction
from .label_metrics import anomaly_pixels
from .reader import BagSource
from .records import DEFAULT_NODE, anomaly_label_topic, image_array, output_topics, stamp_ns

LOGGER = logging.getLogger(__name__)
PIXEL_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
# A frame is never called uncertain for fewer than this fraction of its pixels, even when the
# in-distribution bags have none: a few noisy pixels must not raise the flag.
MIN_SCENE_THRESHOLD = 0.001
CONFIDENCE = 0.95  # the false-alarm bound holds with this probability over the calibration draw


@dataclass
class Sequence:
    """One bag: uncertain fraction per frame and pixel threshold, plus anomaly statistics."""

    name: str
    fractions: np.ndarray  # (frames, thresholds)
    positive: np.ndarray  # (frames,) bool: the frame has anomaly pixels (False unlabelled)
    pixel_counts: np.ndarray  # (thresholds, 3): true / false positive, false negative pixels


@dataclass(frozen=True)
class Choice:
    pixel_threshold: float
    scene_threshold: float
    raise_frames: int
    detection_rate: float  # anomaly frames flagged (NaN without anomaly bags)
    pixel_f1: float
    calibration_far: float  # flagged in-distribution frames / frames, simulated
    far_bound: float  # what the conformal quantile guarantees per frame
    windows: int


def read_sequence(path: str | Path, values: dict, node: str = DEFAULT_NODE,
                  thresholds: tuple[float, ...] = PIXEL_THRESHOLDS) -> Sequence:
    """Uncertainty (and anomaly labels, when recorded) of a replayed or live-recorded bag."""
    config = flag_config(values)
    at_threshold = [replace(config, pixel_threshold=t) for t in thresholds]
    topic = output_topics(node)["uncertainty"]
    with BagSource(path) as source:
        if topic not in source.contents.topics:
            raise DataError(f"{path}: no {topic}; calibrate reads bags written by "
                            "`flowenedet replay` or `flowenedet play --record`")
        label_topic = anomaly_label_topic(source.contents.custom)
        stamps: list[int] = []
        rows: list[list[float]] = []
        anomalous: set[int] = set()
        counts = np.zeros((len(thresholds), 3), np.int64)
        maps: dict[int, np.ndarray] = {}  # uncertainty or label waiting for its partner
        wanted = {topic} | ({label_topic} if label_topic else set())
        for item in tqdm(source.messages(wanted), desc=Path(path).name, unit="msg",
                         leave=False):
            stamp, array = stamp_ns(item.message.header), image_array(item.message)
            if item.topic == topic:
                stamps.append(stamp)
                rows.append([uncertain_fraction(array, c) for c in at_threshold])
            if label_topic is None:
                continue
            partner = maps.pop(stamp, None)
            if partner is None:
                maps[stamp] = array
                continue
            uncertainty, truth = (array, partner) if item.topic == topic else (partner, array)
            if _count_pixels(counts, uncertainty, truth, thresholds):
                anomalous.add(stamp)
    if not rows:
        raise DataError(f"{path}: no frames on {topic}")
    return Sequence(Path(path).name, np.asarray(rows),
                    np.asarray([stamp in anomalous for stamp in stamps]), counts)


def _count_pixels(counts: np.ndarray, uncertainty: np.ndarray, truth: np.ndarray,
                  thresholds: tuple[float, ...]) -> bool:
    """Adds the OOD mask's pixel counts at every threshold; False if no anomaly pixel."""
    valid = truth != IGNORE_INDEX
    anomaly = anomaly_pixels(truth) & valid
    if not anomaly.any():
        return False
    for index, threshold in enumerate(thresholds):
        predicted = (uncertainty > threshold) & valid
        counts[index] += (np.count_nonzero(predicted & anomaly),
                          np.count_nonzero(predicted & ~anomaly),
                          np.count_nonzero(~predicted & anomaly))
    return True


def window_statistics(fractions: np.ndarray, raise_frames: int) -> np.ndarray:
    """Smallest fraction of every run of `raise_frames` consecutive frames: the flag rises on a
    run exactly when this exceeds scene_threshold."""
    if len(fractions) < raise_frames:
        return np.empty(0)
    windows = np.lib.stride_tricks.sliding_window_view(fractions, raise_frames)
    return windows.min(axis=1)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0 if k < n else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                                 + i * log_p + (n - i) * log_q) for i in range(k + 1)))


def conformal_threshold(statistics: np.ndarray, rate: float,
                        confidence: float = CONFIDENCE) -> tuple[float, float]:
    """(threshold, exceedance rate it guarantees with probability `confidence`).

    With the r-th smallest of n exchangeable statistics as threshold, the rate at which new ones
    exceed it is Beta(n - r + 1, r) distributed, so P(rate > target) = P(Binomial(n, target)
    <= n - r): the smallest r that keeps this below 1 - confidence is taken. When even r = n
    cannot, the largest statistic is used and the rate it guarantees, 1 - (1 - confidence)^(1/n),
    is returned instead of the target."""
    n = len(statistics)
    if n == 0:
        raise DataError("no in-distribution window to calibrate on (fewer frames than "
                        "raise_frames)")
    ordered = np.sort(statistics)
    for rank in range(max(1, math.ceil(n * (1 - rate))), n + 1):
        if binomial_cdf(n - rank, n, rate) <= 1 - confidence:
            return float(ordered[rank - 1]), rate
    return float(ordered[-1]), 1 - (1 - confidence) ** (1 / n)


def simulate_flag(fractions: np.ndarray, config) -> np.ndarray:
    """The node's SceneFlag over one bag's frames (one per period): raised per frame."""
    flag = SceneFlag(config, 0.0)
    return np.array([flag.update_fraction(float(f), float(i)).raised
                     for i, f in enumerate(fractions)], dtype=bool)


def evaluate_choice(inliers: list[Sequence], anomalies: list[Sequence], index: int,
                    threshold: float, raise_frames: int, config) -> tuple[float, float]:
    """(in-distribution flagged-frame rate, anomaly-frame detection rate) with these settings."""
    settings = replace(config, pixel_threshold=PIXEL_THRESHOLDS[index],
                       scene_threshold=threshold, raise_frames=raise_frames,
                       stale_timeout_s=math.inf)
    flagged = sum(simulate_flag(s.fractions[:, index], settings).sum() for s in inliers)
    frames = sum(len(s.fractions) for s in inliers)
    detected = positives = 0
    for sequence in anomalies:
        raised = simulate_flag(sequence.fractions[:, index], settings)
        detected += int(raised[sequence.positive].sum())
        positives += int(sequence.positive.sum())
    return flagged / frames, (detected / positives if positives else float("nan"))


def calibrate(inliers: list[Sequence], anomalies: list[Sequence], values: dict,
              target: float, raise_choices: tuple[int, ...] | None = None,
              fixed_pixel_threshold: bool = False) -> Choice:
    """The best (pixel_threshold, scene_threshold, raise_frames) under the false-alarm target;
    with `fixed_pixel_threshold`, pixel_threshold stays as `values` give it (the nearest of
    PIXEL_THRESHOLDS)."""
    if not 0 < target < 1:
        raise DataError(f"target false-alarm rate must be in (0, 1), got {target}")
    config = flag_config(values)
    labelled = any(s.positive.any() for s in anomalies)
    nearest = int(np.argmin(np.abs(np.asarray(PIXEL_THRESHOLDS) - config.pixel_threshold)))
    if labelled:
        indices = [nearest] if fixed_pixel_threshold else range(len(PIXEL_THRESHOLDS))
        raises = raise_choices or tuple(range(1, 6))
    else:
        indices, raises = [nearest], (config.raise_frames,)
    window_rate = target / config.clear_frames
    best, best_key = None, None
    for index in indices:
        counts = sum(s.pixel_counts[index] for s in anomalies) if anomalies else np.zeros(3)
        true, false, missed = (int(c) for c in counts)
        f1 = 2 * true / max(2 * true + false + missed, 1)
        for raise_frames in raises:
            statistics = np.concatenate([window_statistics(s.fractions[:, index], raise_frames)
                                         for s in inliers])
            if statistics.size == 0:
                continue  # fewer in-distribution frames than raise_frames
            threshold, window_bound = conformal_threshold(statistics, window_rate)
            threshold = max(threshold, MIN_SCENE_THRESHOLD)
            far, detection = evaluate_choice(inliers, anomalies, index, threshold, raise_frames,
                                             config)
            choice = Choice(PIXEL_THRESHOLDS[index], threshold, raise_frames, detection, f1,
                            far, min(1.0, window_bound * config.clear_frames), len(statistics))
            key = (0.0 if math.isnan(detection) else detection, -raise_frames, f1)
            if far <= target and (best_key is None or key > best_key):
                best, best_key = choice, key
    if best is None and not any(len(s.fractions) >= min(raises) for s in inliers):
        raise DataError(f"the in-distribution bags are shorter than raise_frames {min(raises)}")
    if best is None:
        raise DataError("no setting keeps the in-distribution false-alarm rate below "
                        f"{target}: the in-distribution bags look uncertain throughout")
    return best
