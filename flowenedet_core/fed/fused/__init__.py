"""FED's flow as Triton kernels (inference): the same transform as FlowEneDet, fewer launches."""

from .flow import (
    FusedFlow,
    config_unsupported_reason,
    slower_than_pytorch_reason,
    tracing,
    triton_missing_reason,
)

__all__ = ["FusedFlow", "config_unsupported_reason", "slower_than_pytorch_reason", "tracing",
           "triton_missing_reason"]
