"""Exceptions of flowenedet_core: each names the file, option or value at fault and the fix."""


class FlowenedetError(Exception):
    """Base class of every error this package raises on purpose."""


class WeightsError(FlowenedetError):
    """Backbone weights are missing, unreadable or do not fit the architecture."""


class CheckpointError(FlowenedetError):
    """A FED checkpoint directory is missing, incomplete or inconsistent."""


class DataError(FlowenedetError):
    """Input data is missing or malformed: a dataset folder, a `--data` spec, an image."""


class ConfigError(FlowenedetError):
    """A configuration value is out of its valid range."""


class ExportError(FlowenedetError):
    """A model cannot be exported to ONNX, or an exported file is not one of ours."""


class RuntimeBackendError(FlowenedetError):
    """An inference backend is unavailable, or an engine cannot be built or loaded."""
