"""Metrics of replayed frames against the labels recorded beside them, with the protocol of
`flowenedet eval`: anomaly masks -> AP / AUROC / FPR95 of anomaly pixels at the model's input size
(labels resized nearest, void ignored, frames without anomaly pixels skipped); semantic train ids
-> misclassification detection (positive = wrong label) and mIoU at the label's size."""

from __future__ import annotations

import numpy as np

from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from flowenedet_core.data.transforms import resize_label
from flowenedet_core.metrics.ranking import RankingAccumulator
from flowenedet_core.metrics.segmentation import ConfusionMatrix
from flowenedet_core.runtime.base import Prediction

ANOMALY = 1


def anomaly_pixels(truth: np.ndarray) -> np.ndarray:
    """Anomaly pixels of a mask: 1, or 2 as RoadAnomaly marks them (void and 0 are not)."""
    return (truth == ANOMALY) | (truth == 2)


class LabelMetrics:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ranking = RankingAccumulator()
        self.confusion = ConfusionMatrix(len(CITYSCAPES_CLASSES)) if kind == "semantic" else None
        self.frames = 0
        self.skipped = 0

    def add(self, prediction: Prediction, truth: np.ndarray) -> None:
        """One frame's prediction and its (H, W) label."""
        labels, uncertainty = prediction.labels, prediction.uncertainty
        if self.kind == "anomaly":
            uncertainty = prediction.model_uncertainty
            truth = resize_label(truth, uncertainty.shape)
        valid = truth != IGNORE_INDEX
        if self.kind == "anomaly":
            positive = anomaly_pixels(truth)
            if not positive[valid].any():
                self.skipped += 1
                return
        else:
            positive = labels != truth
            self.confusion.update(labels, truth)
        self.ranking.update(uncertainty, positive, valid)
        self.frames += 1

    def summary(self) -> dict:
        result: dict = {"label_kind": self.kind, "frames": self.frames,
                        "skipped_without_positives": self.skipped}
        if self.frames:
            metrics = self.ranking.compute()
            result.update(metrics.as_dict(), positives=metrics.positives,
                          negatives=metrics.negatives)
        if self.confusion is not None and self.frames:
            result.update(miou=self.confusion.miou(),
                          pixel_accuracy=self.confusion.pixel_accuracy())
        return result

    def curves(self) -> dict[str, np.ndarray] | None:
        return self.ranking.curves() if self.frames else None
