"""Labelled image folders (anomaly bundles, Cityscapes trees, Cityscapes-C) and image resizing."""

from .datasets import AnomalyFolder, CityscapesFolder, LabelledFolder, Sample
from .spec import parse_data_spec

__all__ = ["AnomalyFolder", "CityscapesFolder", "LabelledFolder", "Sample", "parse_data_spec"]
