"""Which backend runs: the one asked for, or for `auto` the fastest this machine has."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ..errors import ConfigError, RuntimeBackendError

BACKEND_NAMES = ("auto", "tensorrt", "torch", "onnxruntime")


@dataclass(frozen=True)
class Environment:
    """What is installed and attached."""

    tensorrt_version: str | None  # None: `import tensorrt` fails
    cuda_device: str | None  # the first CUDA GPU's name; None without one
    onnxruntime: bool


def probe_environment() -> Environment:
    import torch

    tensorrt_version = None
    if importlib.util.find_spec("tensorrt") is not None:
        try:
            import tensorrt

            tensorrt_version = tensorrt.__version__
        except Exception:  # a broken install (missing libnvinfer) counts as absent
            tensorrt_version = None
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return Environment(tensorrt_version, cuda, importlib.util.find_spec("onnxruntime") is not None)


def choose_backend(requested: str, environment: Environment) -> tuple[str, str]:
    """(backend, why). `auto`: TensorRT when it and a GPU exist (an engine is built on demand),
    else torch on the GPU, else onnxruntime on the CPU, else torch on the CPU."""
    if requested not in BACKEND_NAMES:
        raise ConfigError(f"backend {requested!r} is not one of {', '.join(BACKEND_NAMES)}")
    gpu, trt = environment.cuda_device, environment.tensorrt_version
    if requested == "tensorrt":
        if trt is None or gpu is None:
            missing = "TensorRT is not installed" if trt is None else "there is no CUDA GPU"
            raise RuntimeBackendError(f"backend tensorrt is unavailable: {missing} "
                                      "(use backend auto, torch or onnxruntime)")
        return "tensorrt", "asked for"
    if requested == "onnxruntime":
        if not environment.onnxruntime:
            raise RuntimeBackendError("backend onnxruntime is unavailable: pip install "
                                      "onnxruntime")
        return "onnxruntime", "asked for"
    if requested == "torch":
        return "torch", "asked for"
    if trt is not None and gpu is not None:
        return "tensorrt", f"TensorRT {trt} and GPU {gpu} found"
    if gpu is not None:
        return "torch", f"GPU {gpu} found but TensorRT is not installed: torch on CUDA"
    if environment.onnxruntime:
        return "onnxruntime", "no CUDA GPU: onnxruntime on the CPU"
    return "torch", "no CUDA GPU and no onnxruntime: torch on the CPU"
