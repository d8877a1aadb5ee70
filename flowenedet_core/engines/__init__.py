"""TensorRT engines: build plans (TensorRT 10/11) and a validated, keyed cache of them."""

from .builder import BuildPlan, build_engine, build_plan
from .cache import EngineCache, EngineKey

__all__ = ["BuildPlan", "EngineCache", "EngineKey", "build_engine", "build_plan"]
