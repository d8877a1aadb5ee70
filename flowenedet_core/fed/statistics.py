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
        num_classes = len(self.class_names)
        max_logit, prediction = logits[:, :num_classes].float().max(1)
        correct = prediction == labels.to(prediction.device).long()
        classes = prediction[correct].cpu().numpy()
        values = max_logit[correct].double().cpu().numpy()
        self.count += np.bincount(classes, minlength=num_classes)
        self.total += np.bincount(classes, weights=values, minlength=num_classes)
        self.total_sq += np.bincount(classes, weights=values ** 2, minlength=num_classes)

    def result(self) -> SMLStatistics:
        """Classes without a correct pixel fall back to the mean of the others' statistics."""
        seen = self.count > 0
        if not seen.any():
            raise ValueError("no correctly classified pixel seen: cannot estimate SML statistics")
        mean = np.where(seen, self.total / np.maximum(self.count, 1), np.nan)
        variance = self.total_sq / np.maximum(self.count, 1) - np.nan_to_num(mean) ** 2
        std = np.where(seen, np.sqrt(np.maximum(variance, 1e-12)), np.nan)
        for index in np.flatnonzero(~seen):
            LOGGER.warning("class %r has no correctly predicted pixel: using the mean of the "
                           "other classes' statistics", self.class_names[index])
        mean = np.where(seen, mean, np.nanmean(mean))
        std = np.where(seen, np.maximum(std, 1e-3), np.nanmean(std))
        return SMLStatistics(self.class_names, tuple(mean.tolist()), tuple(std.tolist()),
                             tuple(int(c) for c in self.count))
