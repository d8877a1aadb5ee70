"""flowenedet_core: FlowEneDet on frozen segmentation models (PyTorch; never imports ROS)."""

from .backbones import Backbone, create_backbone
from .checkpoint import DetectorCheckpoint, load_checkpoint, save_checkpoint
from .export import ModelSpec
from .fed import FEDConfig, FlowEneDet, SMLStatistics
from .runtime import Pipeline, Prediction
from .scores import SCORES, resolve_scores

__all__ = ["SCORES", "Backbone", "DetectorCheckpoint", "FEDConfig", "FlowEneDet", "ModelSpec",
           "Pipeline", "Prediction", "SMLStatistics", "create_backbone", "load_checkpoint",
           "resolve_scores", "save_checkpoint"]
