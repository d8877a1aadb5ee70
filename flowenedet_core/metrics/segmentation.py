"""Confusion-matrix segmentation metrics: mIoU, pixel accuracy and open-mIoU."""

from __future__ import annotations

import numpy as np

from ..cityscapes_classes import IGNORE_INDEX


class ConfusionMatrix:
    """Accumulates a (K, K) confusion matrix, rows = ground truth, columns = prediction."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, prediction: np.ndarray, target: np.ndarray) -> None:
        """Pixels whose target is outside [0, K) (void, 255) are ignored."""
        prediction = np.asarray(prediction, dtype=np.int64).reshape(-1)
        target = np.asarray(target, dtype=np.int64).reshape(-1)
        keep = (target >= 0) & (target < self.num_classes)
        index = target[keep] * self.num_classes + np.clip(prediction[keep], 0, self.num_classes - 1)
        self.matrix += np.bincount(index, minlength=self.num_classes ** 2).reshape(
            self.num_classes, self.num_classes)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for classes absent from the ground truth."""
        true_positive = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - true_positive
        present = self.matrix.sum(1) > 0
        return np.where(present, true_positive / np.maximum(union, 1), np.nan)

    def miou(self) -> float:
        """Mean IoU in percent over the classes present in the ground truth."""
        return 100 * float(np.nanmean(self.iou()))

    def pixel_accuracy(self) -> float:
        return 100 * float(np.trace(self.matrix)) / max(int(self.matrix.sum()), 1)


def open_set_maps(prediction: np.ndarray, target: np.ndarray, scores: np.ndarray,
                  threshold: float, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Prediction and target of open-mIoU, with `num_classes` as the extra "void" class.

    Target: misclassified and void pixels become void. Prediction: pixels whose uncertainty
    score exceeds `threshold` become void (rejected).
    """
    void = num_classes
    open_target = np.where((target == IGNORE_INDEX) | (prediction != target), void, target)
    open_prediction = np.where(scores > threshold, void, prediction)
    return open_prediction, open_target
