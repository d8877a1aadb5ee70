"""Meta classification of anomaly components (Meta-OoD's second step, Chan et al. ICCV 2021):
a logistic regression over hand-made metrics of each connected component of a thresholded
uncertainty map, which removes the components that look like false alarms.

The metrics use only what a deployed graph outputs, the uncertainty map and the predicted train
ids, so the node can apply the same classifier as `eval --components`: area, the uncertainty
inside (mean / max / std) and on the one-pixel ring around it (the border contrast), the share of
that ring on drivable classes, the box's fill, aspect and bottom row, and its distance to the
image border. The uncertainty levels are measured from the threshold that cut the component out
(mean - threshold, ...): the operating point differs between where the classifier is fitted (a
data set's best-F1 threshold) and where it is used (another set's, or the node's pixel
threshold), and absolute levels would move with it while a component's height above its own cut
does not. (Meta-OoD also uses the softmax entropy and margin inside; with a flow conditioned
on the margin, the uncertainty already carries them, and the deployed graph does not output the
logits.) Stored as JSON (weights, feature names, standardisation), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import CheckpointError, DataError

FEATURES = ("log_area", "mean_over_threshold", "peak_over_threshold", "std_uncertainty",
            "ring_over_threshold", "drivable_ring", "box_fill", "log_aspect", "bottom_row",
            "border_distance")
DRIVABLE_CLASSES = (0, 1)  # road, sidewalk: where an object on the road is bordered by
_DRIVABLE = np.isin(np.arange(256), DRIVABLE_CLASSES)
FORMAT_VERSION = 2
_RING = np.ones((3, 3), np.uint8)


def component_features(regions: np.ndarray, stats: np.ndarray, ids: np.ndarray,
                       uncertainty: np.ndarray, labels: np.ndarray, threshold: float
                       ) -> np.ndarray:
    """(len(ids), len(FEATURES)) metrics of the components `ids` of an OpenCV labelling
    (`regions`, `stats` of connectedComponentsWithStats) of `uncertainty > threshold`;
    `labels`: predicted train ids of the same size. Each is looked at inside its box grown by
    one pixel, so the cost follows the components, not the frame."""
    height, width = regions.shape
    rows = np.empty((len(ids), len(FEATURES)), np.float64)
    for row, region in enumerate(ids):
        x, y, w, h, area = (int(v) for v in stats[region][:5])
        top, left = max(y - 1, 0), max(x - 1, 0)
        bottom, right = min(y + h + 1, height), min(x + w + 1, width)
        inside = (regions[top:bottom, left:right] == region).view(np.uint8)
        ring = cv2.dilate(inside, _RING) - inside
        values = uncertainty[top:bottom, left:right]
        mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(values, mask=inside))
        peak = cv2.minMaxLoc(values, mask=inside)[1]
        has_ring = cv2.countNonZero(ring) > 0
        ring_mean = cv2.mean(values, mask=ring)[0] if has_ring else mean
        drivable = _DRIVABLE[labels[top:bottom, left:right]].view(np.uint8)
        drivable_ring = cv2.mean(drivable, mask=ring)[0] if has_ring else 0.0
        rows[row] = (np.log(area / (height * width)), mean - threshold, peak - threshold, std,
                     ring_mean - threshold, drivable_ring,
                     area / (w * h), np.log(h / w), (y + h) / height,
                     min(x, y, width - x - w, height - y - h) / min(height, width))
    return rows


def label_components(anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a boolean map: (regions, stats) as OpenCV gives them."""
    _, regions, stats, _ = cv2.connectedComponentsWithStats(anomalous.view(np.uint8), 8,
                                                            cv2.CV_32S)
    return regions, stats


@dataclass(frozen=True)
class MetaClassifier:
    """p(component is a real anomaly) = sigmoid(w . (x - mean) / std + b)."""

    score: str  # the uncertainty score it was fitted on (its maps' scale matters)
    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # components below this probability are removed
    training: dict | None = None  # what it was fitted on (counts, data)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        if rows.shape[1] != len(self.features):
            raise ValueError(f"{rows.shape[1]} features given, the classifier has "
                             f"{len(self.features)}")
        standard = (rows - np.asarray(self.mean)) / np.asarray(self.std)
        return 1 / (1 + np.exp(-(standard @ np.asarray(self.weights) + self.bias)))

    def keep(self, uncertainty: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
        """`uncertainty > threshold` without its components classified as false alarms."""
        anomalous = uncertainty > threshold
        regions, stats = label_components(anomalous)
        ids = np.arange(1, len(stats))
        if not ids.size:
            return anomalous
        accepted = self.probabilities(component_features(regions, stats, ids, uncertainty,
                                                         labels, threshold)) >= self.threshold
        lookup = np.concatenate([[False], accepted])
        return lookup[regions]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> MetaClassifier:
        path = Path(path)

        def not_a_meta_file(error: Exception) -> CheckpointError:
            return CheckpointError(f"{path}: not a meta classifier file ({error}); write one with "
                                   "`flowenedet fit-meta`")

        try:
            data = json.loads(path.read_text())
            version = data.pop("format_version")
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise not_a_meta_file(error) from None
        if version != FORMAT_VERSION:
            raise CheckpointError(f"{path}: a meta classifier of format {version}; this version "
                                  f"reads format {FORMAT_VERSION} (features measured from the "
                                  "component's own threshold): refit it with "
                                  "`flowenedet fit-meta`")
        try:
            classifier = cls(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in data.items()})
        except TypeError as error:
            raise not_a_meta_file(error) from None
        if classifier.features != FEATURES:
            raise CheckpointError(f"{path}: features {classifier.features} are not this "
                                  f"version's {FEATURES}; refit it with `flowenedet fit-meta`")
        return classifier


def fit_logistic(rows: np.ndarray, targets: np.ndarray, score: str, l2: float = 1e-2,
                 iterations: int = 50, training: dict | None = None) -> MetaClassifier:
    """L2-regularised logistic regression by Newton's method on standardised features, classes
    weighted to equal total weight (false alarms usually outnumber objects), so 0.5 is the
    balanced decision."""
    if rows.ndim != 2 or len(rows) != len(targets) or len(set(targets.tolist())) < 2:
        raise DataError("fitting needs components of both kinds (real anomalies and false "
                         f"alarms); got {int(targets.sum())} of {len(targets)} positive")
    mean, std = rows.mean(0), rows.std(0) + 1e-6
    design = np.hstack([(rows - mean) / std, np.ones((len(rows), 1))])
    positives = targets.astype(bool)
    sample = np.where(positives, 0.5 / positives.mean(), 0.5 / (~positives).mean())
    sample = sample / sample.mean()
    penalty = l2 * len(rows) * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0  # no penalty on the bias
    theta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ theta))
        gradient = design.T @ (sample * (p - targets)) + penalty @ theta
        hessian = (design * (sample * p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return MetaClassifier(score, FEATURES, tuple(mean.tolist()), tuple(std.tolist()),
                          tuple(theta[:-1].tolist()), float(theta[-1]), training=training)
