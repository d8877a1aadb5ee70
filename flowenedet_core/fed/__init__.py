"""FlowEneDet: energy input, invertible blocks, base distribution, detector, SML statistics."""

from .detector import FEDConfig, FlowEneDet
from .statistics import SMLStatistics, SMLStatisticsAccumulator

__all__ = ["FEDConfig", "FlowEneDet", "SMLStatistics", "SMLStatisticsAccumulator"]
