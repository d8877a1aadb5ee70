"""Streaming ranking metrics (AUROC, AP, FPR95 with error bounds) and segmentation metrics."""

from .ranking import RankingAccumulator, RankingMetrics
from .segmentation import ConfusionMatrix, open_set_maps

__all__ = ["ConfusionMatrix", "RankingAccumulator", "RankingMetrics", "open_set_maps"]
