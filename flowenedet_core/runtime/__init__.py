"""Inference backends behind one interface, and the Pipeline that runs them per frame."""

from .base import Prediction, RuntimeBackend
from .pipeline import Pipeline
from .selection import choose_backend

__all__ = ["Pipeline", "Prediction", "RuntimeBackend", "choose_backend"]
