"""Metrics of replayed frames against the labels recorded beside them, with the protocol of
`flowenedet eval` at the camera's resolution: anomaly masks -> AP / AUROC / FPR95 of anomaly pixels
(void ignored, frames without anomaly pixels skipped); semantic train ids -> misclassification
detection (positive = wrong label) and mIoU."""

from __future__ import annotations

import numpy as np

from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES, IGNORE_INDEX
from flowenedet_core.metrics.ranking import RankingAccumulator
from flowenedet_core.metrics.segmentation import ConfusionMatrix

ANOMALY = 1


class LabelMetrics:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ranking = RankingAccumulator()
        self.confusion = ConfusionMatrix(len(CITYSCAPES_CLASSES)) if kind == "semantic" else None
        self.frames = 0
        self.skipped = 0

    def add(self, labels: np.ndarray, uncertainty: np.ndarray, truth: np.ndarray) -> None:
        """One frame: predicted train ids, uncertainty and its label, all (H, W)."""
        valid = truth != IGNORE_INDEX
        if self.kind == "anomaly":
            positive = (truth == ANOMALY) | (truth == 2)  # RoadAnomaly marks anomalies with 2
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
