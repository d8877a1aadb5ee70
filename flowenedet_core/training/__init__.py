"""FED training on a frozen backbone: output cache, schedule, trainer."""

from .cache import CacheSpec, build_cache
from .schedule import StepSchedule
from .trainer import Trainer, TrainOptions

__all__ = ["CacheSpec", "StepSchedule", "TrainOptions", "Trainer", "build_cache"]
