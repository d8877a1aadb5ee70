"""Exceptions of flowenedet_core: each names the file, option or value at fault and the fix."""


class FlowenedetError(Exception):
    """Base class of every error this package raises on purpose."""


class WeightsError(FlowenedetError):
    """Backbone weights are missing, unreadable or do not fit the architecture."""


class CheckpointError(FlowenedetError):
    """A FED checkpoint directory is missing, incomplete or inconsistent."""


class DataError(FlowenedetError):
    """A dataset folder or a `--data` spec is missing or malformed."""


class ConfigError(FlowenedetError):
    """A configuration value is out of its valid range."""
