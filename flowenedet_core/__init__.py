"""flowenedet_core: FlowEneDet on frozen segmentation models (PyTorch; never imports ROS)."""

from .backbones import Backbone, create_backbone
from .checkpoint import DetectorCheckpoint, load_checkpoint, save_checkpoint
from .fed import FEDConfig, FlowEneDet, SMLStatistics
from .scores import SCORES, resolve_scores

__all__ = ["SCORES", "Backbone", "DetectorCheckpoint", "FEDConfig", "FlowEneDet",
           "SMLStatistics", "create_backbone", "load_checkpoint", "resolve_scores",
           "save_checkpoint"]
