"""Frozen segmentation models behind one interface, built by name from a registry."""

from .base import Backbone, BackboneOutput, Preprocessing
from .registry import BACKBONES, create_backbone

__all__ = ["BACKBONES", "Backbone", "BackboneOutput", "Preprocessing", "create_backbone"]
