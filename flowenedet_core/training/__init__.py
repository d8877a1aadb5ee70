"""FED training on a frozen backbone: crop sampler, view cache and sources, schedule, trainer."""

from .cache import CacheSpec, build_cache
from .sampler import CropSampler, SamplerConfig
from .schedule import StepSchedule
from .sources import CachedViews, OnlineViews
from .trainer import Trainer, TrainOptions

__all__ = ["CacheSpec", "CachedViews", "CropSampler", "OnlineViews", "SamplerConfig",
           "StepSchedule", "TrainOptions", "Trainer", "build_cache"]
