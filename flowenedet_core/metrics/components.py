"""SegmentMeIfYouCan's component-level metrics (Chan et al., NeurIPS 2021 datasets track),
written after the definitions of the benchmark's code (road_anomaly_benchmark, `MetricSegment`):

- the score map is thresholded at the pixel-level best-F1 threshold of the dataset; predicted
  anomaly pixels on void are removed; ground-truth and predicted components are 8-connected;
  predicted components smaller than `min_prediction_size` pixels are dropped, ground-truth
  components smaller than `min_truth_size` become void; only non-void pixels are counted after;
- sIoU of a ground-truth component k: |k ∩ K̂| / |(k ∪ K̂) \\ A|, with K̂ the union of the
  predicted components that touch k and A the pixels of K̂ on *other* ground-truth components
  (a prediction covering two objects is not punished for the other one);
- PPV of a predicted component: the share of its pixels on any ground-truth component;
- at each sIoU threshold t in 0.25, 0.30, ..., 0.75: TP = ground-truth components with sIoU >= t,
  FN = the others, FP = predicted components with PPV < t, F1 = 2 TP / (2 TP + FN + FP);
  TP / FN / FP are pooled over the frames, and the benchmark's "mean F1" averages F1 over t;
- sIoU and PPV are averaged over all components of all frames.
The benchmark's size limits (anomaly track: 500 and 100 pixels) are at the dataset's resolution;
`scaled_sizes` carries them to the resolution the maps are scored at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SIOU_THRESHOLDS = tuple(float(t) for t in np.linspace(0.25, 0.75, 11))
ANOMALY_TRACK_SIZES = (500, 100)  # (min predicted, min ground-truth) component pixels
VOID = 255


def scaled_sizes(sizes: tuple[int, int], native_pixels: int, scored_pixels: int
                 ) -> tuple[int, int]:
    """The size limits for maps scored at another resolution than the dataset's own."""
    ratio = scored_pixels / native_pixels
    return tuple(max(1, round(size * ratio)) for size in sizes)


def _label(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    count, ids, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8,
                                                            ltype=cv2.CV_32S)
    return count, ids, stats[:, cv2.CC_STAT_AREA]


def frame_components(anomalous: np.ndarray, label: np.ndarray,
                     sizes: tuple[int, int] = ANOMALY_TRACK_SIZES
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(sIoU of each ground-truth component, PPV of each predicted component) of one frame:
    `anomalous` (H, W) bool is the thresholded score map, `label` 0 / 1 / 255."""
    if anomalous.shape != label.shape:
        raise ValueError(f"prediction {anomalous.shape} and label {label.shape} differ")
    min_prediction, min_truth = sizes
    truth_count, truth, truth_areas = _label(label == 1)
    predicted_count, predicted, predicted_areas = _label(anomalous & (label != VOID))
    predicted = np.where(predicted_areas[predicted] < min_prediction, 0, predicted)
    predicted_areas[0] = 0  # background
    valid = (label != VOID) & (truth_areas[truth] >= min_truth)
    truth_areas[0] = 0
    truth = np.where(truth_areas[truth] < min_truth, 0, truth)
    # joint pixel counts of (ground-truth id, predicted id) over the valid pixels
    joint = np.bincount(truth[valid].astype(np.int64) * predicted_count + predicted[valid],
                        minlength=truth_count * predicted_count
                        ).reshape(truth_count, predicted_count)
    truth_sizes, predicted_sizes = joint.sum(1), joint.sum(0)
    on_truth = joint[1:].sum(0)  # per predicted id: its pixels on any ground-truth component
    sious = []
    for k in np.flatnonzero(truth_sizes[1:]) + 1:
        touching = np.flatnonzero(joint[k, 1:]) + 1
        intersection = joint[k, touching].sum()
        adjustment = on_truth[touching].sum() - intersection  # on other ground-truth components
        union = predicted_sizes[touching].sum() + truth_sizes[k] - intersection - adjustment
        sious.append(intersection / union)
    present = np.flatnonzero(predicted_sizes[1:]) + 1
    ppvs = on_truth[present] / predicted_sizes[present]
    return np.asarray(sious, np.float64), ppvs.astype(np.float64)


@dataclass(frozen=True)
class ComponentMetrics:
    """Component-level metrics in percent (the benchmark's table)."""

    siou: float  # mean sIoU over ground-truth components
    ppv: float  # mean PPV over predicted components
    mean_f1: float  # F1 averaged over SIOU_THRESHOLDS
    f1: dict[str, float]  # at 0.25, 0.5, 0.75
    truth_components: int
    predicted_components: int
    threshold: float  # the score threshold used

    def as_dict(self) -> dict:
        return {"siou": self.siou, "ppv": self.ppv, "mean_f1": self.mean_f1, "f1": self.f1,
                "truth_components": self.truth_components,
                "predicted_components": self.predicted_components,
                "threshold": self.threshold}


@dataclass
class ComponentAccumulator:
    """sIoU and PPV of every component, frame after frame."""

    sious: list[np.ndarray] = field(default_factory=list)
    ppvs: list[np.ndarray] = field(default_factory=list)

    def update(self, anomalous: np.ndarray, label: np.ndarray,
               sizes: tuple[int, int] = ANOMALY_TRACK_SIZES) -> None:
        sious, ppvs = frame_components(anomalous, label, sizes)
        self.sious.append(sious)
        self.ppvs.append(ppvs)

    def compute(self, threshold: float = float("nan")) -> ComponentMetrics:
        sious = np.concatenate(self.sious) if self.sious else np.empty(0)
        ppvs = np.concatenate(self.ppvs) if self.ppvs else np.empty(0)
        scores = {}
        for t in SIOU_THRESHOLDS:
            tp = int(np.count_nonzero(sious >= t))
            fn, fp = sious.size - tp, int(np.count_nonzero(ppvs < t))
            scores[t] = 2 * tp / max(2 * tp + fn + fp, 1)
        return ComponentMetrics(
            siou=100 * float(sious.mean()) if sious.size else float("nan"),
            ppv=100 * float(ppvs.mean()) if ppvs.size else float("nan"),
            mean_f1=100 * float(np.mean(list(scores.values()))),
            f1={f"{t:.2f}": 100 * scores[t] for t in (0.25, 0.5, 0.75)},
            truth_components=int(sious.size), predicted_components=int(ppvs.size),
            threshold=threshold)
