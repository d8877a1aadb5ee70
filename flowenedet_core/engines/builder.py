"""Build TensorRT plans from exported ONNX files (TensorRT 10 and 11 Python APIs).

TensorRT 10 builds FP16 engines from the FP32 graph with the FP16 builder flag (weak typing:
TensorRT picks each layer's precision). TensorRT 11 removed that flag: a strongly typed network
takes its precisions from the graph, so FP16 there means parsing the FP16 export.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, RuntimeBackendError

LOGGER = logging.getLogger(__name__)
ENGINE_PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class BuildPlan:
    """How one (TensorRT version, precision) pair is built."""

    onnx_precision: str  # which export to parse: fp32 or fp16
    strongly_typed: bool  # NetworkDefinitionCreationFlag.STRONGLY_TYPED
    fp16_flag: bool  # BuilderFlag.FP16 (TensorRT < 11 only)


def tensorrt_major(version: str) -> int:
    try:
        return int(version.split(".")[0])
    except ValueError:
        raise RuntimeBackendError(f"cannot read the TensorRT version {version!r}") from None


def build_plan(tensorrt_version: str, precision: str) -> BuildPlan:
    if precision not in ENGINE_PRECISIONS:
        raise ConfigError(f"engine precision {precision!r} is not one of "
                          f"{', '.join(ENGINE_PRECISIONS)}")
    major = tensorrt_major(tensorrt_version)
    if major < 10:
        raise RuntimeBackendError(f"TensorRT {tensorrt_version} is too old: 10 or newer needed")
    if major >= 11:
        return BuildPlan(onnx_precision=precision, strongly_typed=True, fp16_flag=False)
    return BuildPlan(onnx_precision="fp32", strongly_typed=False, fp16_flag=precision == "fp16")


def gpu_identity(device: int = 0) -> tuple[str, str]:
    """(name, compute capability "major.minor") of a CUDA device, via torch."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeBackendError("TensorRT needs a CUDA GPU, and torch sees none")
    major, minor = torch.cuda.get_device_capability(device)
    return torch.cuda.get_device_name(device), f"{major}.{minor}"


def _progress_monitor(trt):
    """A trt.IProgressMonitor that logs each build phase (start, every ~10 %, end, seconds)."""

    class LoggingProgressMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self.started: dict[str, float] = {}
            self.steps: dict[str, int] = {}

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.started[phase_name] = time.monotonic()
            self.steps[phase_name] = max(num_steps, 1)
            LOGGER.info("engine build: %s%s (%d steps)", f"{parent_phase} / " if parent_phase
                        else "", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            total = self.steps.get(phase_name, 1)
            if total >= 10 and (step + 1) % max(total // 10, 1) == 0:
                LOGGER.info("engine build: %s %d/%d", phase_name, step + 1, total)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            elapsed = time.monotonic() - self.started.pop(phase_name, time.monotonic())
            LOGGER.info("engine build: %s done in %.1f s", phase_name, elapsed)

    return LoggingProgressMonitor()


def build_engine(onnx_path: str | Path, plan: BuildPlan, image_size: tuple[int, int],
                 max_batch: int = 1, workspace_gib: float = 4.0) -> bytes:
    """Parse `onnx_path` and build a serialized plan for batches of 1..max_batch."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan.strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeBackendError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    height, width = image_size
    profile = builder.create_optimization_profile()
    profile.set_shape("image", (1, height, width, 3), (1, height, width, 3),
                      (max_batch, height, width, 3))
    config.add_optimization_profile(profile)
    if hasattr(trt, "IProgressMonitor"):
        config.progress_monitor = _progress_monitor(trt)
    started = time.monotonic()
    LOGGER.info("building a TensorRT %s engine from %s (this takes minutes)", trt.__version__,
                onnx_path)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeBackendError(f"TensorRT failed to build an engine from {onnx_path} "
                                  "(see its log above)")
    LOGGER.info("engine built in %.0f s", time.monotonic() - started)
    return bytes(serialized)
