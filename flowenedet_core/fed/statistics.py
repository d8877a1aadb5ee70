"""SML statistics: per-class mean / std of the max logit over correctly predicted train pixels.

Used twice: by the SML score, and to standardise every logit channel before FED's energy input.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class SMLStatistics:
    """Per-class statistics; `counts` records how many pixels each estimate rests on."""

    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    counts: tuple[int, ...]

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) as (1, C, 1, 1) tensors for broadcasting over logits."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        return mean, std

    def to_dict(self) -> dict:
        return {"class_names": list(self.class_names), "mean": list(self.mean),
                "std": list(self.std), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict) -> SMLStatistics:
        try:
            stats = cls(tuple(data["class_names"]), tuple(map(float, data["mean"])),
                        tuple(map(float, data["std"])), tuple(map(int, data["counts"])))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"SML statistics are malformed: {error}") from error
        if not len(stats.class_names) == len(stats.mean) == len(stats.std):
            raise CheckpointError("SML statistics: class_names, mean and std differ in length")
        if min(stats.std) <= 0:
            raise CheckpointError("SML statistics: every std must be positive")
        return stats

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SMLStatistics:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"SML statistics file not found: {path} "
                                  "(create it with `flowenedet estimate-stats`)")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{path} is not valid JSON: {error}") from error


class SMLStatisticsAccumulator:
    """Streams (logits, labels) batches into per-class sums; `result` finalises."""

    def __init__(self, class_names: tuple[str, ...]) -> None:
        self.class_names = tuple(class_names)
        size = len(class_names)
        self.count = np.zeros(size, dtype=np.int64)
        self.total = np.zeros(size, dtype=np.float64)
        self.total_sq = np.zeros(size, dtype=np.float64)

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """logits (B, >=C, h, w) and labels (B, h, w) at the same resolution; void is ignored."""
        count, mean, variance = view_statistics(logits, labels, len(self.class_names)
                                                ).double().cpu().numpy()
        self.count += count.astype(np.int64)
        self.total += count * mean
        self.total_sq += count * (variance + mean ** 2)

    def result(self) -> SMLStatistics:
        """Classes without a correct pixel fall back to the mean of the others' statistics."""
        mean = self.total / np.maximum(self.count, 1)
        variance = self.total_sq / np.maximum(self.count, 1) - mean ** 2
        return finish_statistics(self.class_names, self.count, mean, variance)


def view_statistics(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(3, C) float64: per class, the pixel count, mean and variance of the max logit over pixels
    predicted and labelled as that class (logits (B, >=C, h, w), labels (B, h, w), same size)."""
    max_logit, prediction = logits[:, :num_classes].float().max(1)
    correct = prediction == labels.to(prediction.device).long()
    classes, values = prediction[correct], max_logit[correct].double()
    count = torch.bincount(classes, minlength=num_classes).double()
    total = torch.bincount(classes, weights=values, minlength=num_classes)
    total_sq = torch.bincount(classes, weights=values ** 2, minlength=num_classes)
    mean = total / count.clamp_min(1)
    variance = (total_sq / count.clamp_min(1) - mean ** 2).clamp_min(0)
    return torch.stack([count, mean, variance])


def ema_statistics(class_names: tuple[str, ...], views: list[torch.Tensor],
                   momentum: float = 0.01) -> SMLStatistics:
    """The reference's estimate: per class, an exponential moving average of the per-view mean
    and variance (`view_statistics`), in the given order, starting from the first view with more
    than one pixel of the class. Views are the augmented training crops, so the statistics
    describe the logits the detector is trained on, not the backbone's memorised clean frames."""
    size = len(class_names)
    count, seen = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=bool)
    mean, variance = np.zeros(size), np.zeros(size)
    for view in views:
        view_count, view_mean, view_variance = view.double().cpu().numpy()
        present = view_count > 1
        blend = np.where(seen, momentum, 1.0)[present]
        mean[present] += blend * (view_mean[present] - mean[present])
        variance[present] += blend * (view_variance[present] - variance[present])
        seen |= present
        count += view_count.astype(np.int64)
    return finish_statistics(class_names, np.where(seen, count, 0), mean, variance)


def finish_statistics(class_names: tuple[str, ...], count: np.ndarray, mean: np.ndarray,
                      variance: np.ndarray) -> SMLStatistics:
    """Statistics from per-class estimates; classes without pixels (count 0) fall back to the
    mean of the others' statistics."""
    seen = count > 0
    if not seen.any():
        raise ValueError("no correctly classified pixel seen: cannot estimate SML statistics")
    for index in np.flatnonzero(~seen):
        LOGGER.warning("class %r has no correctly predicted pixel: using the mean of the "
                       "other classes' statistics", class_names[index])
    std = np.sqrt(np.maximum(variance, 1e-12))
    mean = np.where(seen, mean, mean[seen].mean())
    std = np.where(seen, np.maximum(std, 1e-3), std[seen].mean())
    return SMLStatistics(tuple(class_names), tuple(mean.tolist()), tuple(std.tolist()),
                         tuple(int(c) for c in count))
