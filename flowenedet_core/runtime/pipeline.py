"""`Pipeline.infer(image) -> Prediction`: the one object the node, bag replay, evaluation and the
benchmark all run, whatever the backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..data.transforms import resize_image, resize_nearest
from ..engines.cache import cache_dir
from ..errors import DataError
from ..export.model_spec import ModelSpec
from ..export.onnx_export import read_graph_info
from .artifacts import ensure_engine, ensure_onnx
from .base import Prediction, RuntimeBackend
from .precision import HALF_PRECISIONS
from .selection import choose_backend, probe_environment

LOGGER = logging.getLogger(__name__)
GPU_MODES = ("auto", "eager")


@dataclass(frozen=True)
class GpuOptions:
    """How the torch backend runs on a CUDA GPU (the CPU path ignores these).

    `auto`: frames go to the GPU as uint8 at their own size and are resized there, the model runs
    as one CUDA graph per frame shape, FED's flow as fused Triton kernels (fed.fused), and the
    backbone's precision is the fastest that agrees with fp32 (runtime.precision). `eager`: the
    eager module (fp32 in the node) with host resizing (the CPU path's behaviour; the fallback of
    `auto` when anything in it fails)."""

    mode: str = "auto"
    camera_size: tuple[int, int] | None = None  # captured at start; None: the model's size
    parity_images: Path | None = None  # frames of the precision check; None: synthetic streets
    precisions: tuple[str, ...] = HALF_PRECISIONS  # tried besides fp32; () keeps the spec's
    fused_fed: bool = True  # FED's flow as Triton kernels where they run (fed.fused)

    def __post_init__(self) -> None:
        if self.mode not in GPU_MODES:
            raise DataError(f"gpu mode {self.mode!r} is not one of {', '.join(GPU_MODES)}")


class Pipeline:
    """A backend plus the host work around it: checking and resizing the frame on the way in,
    resizing the outputs back to the frame's size on the way out."""

    def __init__(self, runtime: RuntimeBackend, reason: str = "", fallback: str | None = None
                 ) -> None:
        self.runtime = runtime
        self.reason = reason  # why this backend (logged, and shown in diagnostics)
        self.fallback = fallback  # why the GPU path is not running, when it failed

    @property
    def backend(self) -> str:
        return self.runtime.name

    @property
    def image_size(self) -> tuple[int, int]:
        return self.runtime.image_size

    def describe(self) -> str:
        """'torch on NVIDIA H200 (CUDA graphs, bf16 backbone)': diagnostics' `backend`."""
        text = f"{self.runtime.name} on {self.runtime.device}"
        if hasattr(self.runtime, "describe"):
            text += f" ({self.runtime.describe()})"
        return text + (f" ({self.fallback}: eager fp32)" if self.fallback else "")

    @classmethod
    def create(cls, spec: ModelSpec | None = None, backend: str = "auto",
               onnx: str | Path | None = None, engine: str | Path | None = None,
               artifacts: str | Path | None = None, device: str | None = None,
               threads: int | None = None, compile: bool = False,
               gpu: GpuOptions = GpuOptions()) -> Pipeline:
        """Build the pipeline for `spec` (or for an exported `onnx` file alone).

        ONNX files are exported to `artifacts` (None: the cache, engines.cache.cache_dir) when
        missing, TensorRT engines built there on demand (or at `engine`, validated and rebuilt
        on mismatch). `compile` applies
        `torch.compile` to the eager torch backend; `gpu` says how torch runs on CUDA."""
        if spec is None and onnx is None:
            raise DataError("a pipeline needs a model spec or an ONNX file")
        environment = probe_environment()
        name, reason = choose_backend(backend, environment)
        if name == "torch" and spec is None:
            raise DataError("backend torch runs the PyTorch model: give backbone and weights, "
                            "not only an ONNX file")
        LOGGER.info("backend %s (%s)", name, reason)
        artifacts = cache_dir(artifacts)
        if name == "torch":
            from .torch_backend import TorchBackend

            if threads:
                import torch

                torch.set_num_threads(threads)
            device = device or ("cuda" if environment.cuda_device else "cpu")
            if device.startswith("cuda") and gpu.mode == "auto" and not compile:
                return cls.frame_path(spec, device, gpu, reason)
            return cls(TorchBackend(spec.build_graph(device), device, compile), reason)
        onnx_path = Path(onnx) if onnx else ensure_onnx(spec, artifacts)
        if name == "onnxruntime":
            from .onnxruntime_backend import OnnxRuntimeBackend

            return cls(OnnxRuntimeBackend(onnx_path, threads), reason)
        from .tensorrt_backend import TensorRTBackend

        precision = spec.precision if spec else read_graph_info(onnx_path)[0].precision
        plan, engine_path, info, stages = ensure_engine(
            onnx_path, environment.tensorrt_version, precision, artifacts, spec, engine)
        LOGGER.info("TensorRT engine %s", engine_path)
        return cls(TensorRTBackend(plan, info, stages, device or "cuda:0"), reason)

    @classmethod
    def frame_path(cls, spec: ModelSpec, device: str, gpu: GpuOptions = GpuOptions(),
                   reason: str = "") -> Pipeline:
        """The `auto` GPU path (`FrameTorchBackend`), prepared for `gpu.camera_size` frames;
        eager fp32 (logged, with the reason) when any part of it fails. On the CPU it runs the
        same frame path without CUDA graphs (how it is tested without a GPU)."""
        from .frame_backend import FrameTorchBackend
        from .precision import choose_precision, describe_checks, parity_frames
        from .torch_backend import TorchBackend

        def build(precision: str) -> FrameTorchBackend:
            graph = replace(spec, precision=precision).build_graph(device, gpu.fused_fed)
            return FrameTorchBackend(graph, device)

        try:
            if gpu.precisions:
                frames = parity_frames(gpu.parity_images, spec.resolved_size())
                runtime, checks = choose_precision(build, frames, gpu.precisions)
                reason = f"{reason}; backbone precision by parity: {describe_checks(checks)}"
            else:
                runtime = build(spec.precision)
            seconds = runtime.prepare((1, *(gpu.camera_size or spec.resolved_size()), 3))
            return cls(runtime, f"{reason}; {runtime.describe()}, ready in {seconds:.1f} s")
        except Exception as error:  # CUDA, cuDNN and Triton raise their own types
            why = f"GPU path failed ({type(error).__name__}: {str(error).splitlines()[0]})"
            LOGGER.warning("%s: eager fp32 instead", why)
            graph = replace(spec, precision="fp32").build_graph(device)
            return cls(TorchBackend(graph, device), f"{reason}; {why}: eager fp32", why)

    def infer(self, image: np.ndarray) -> Prediction:
        """(H, W, 3) uint8 RGB frame of any size -> labels and uncertainty at (H, W)."""
        return self.infer_batch([image])[0]

    def infer_batch(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Frames of one size (several cameras) in one call of the backend; the timings are the
        batch's."""
        started = time.perf_counter()
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise DataError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} "
                                f"{image.shape}")
            if min(image.shape[:2]) == 0:
                raise DataError(f"empty image {image.shape}")
            if image.shape != images[0].shape:
                raise DataError(f"a batch takes frames of one size: {image.shape} and "
                                f"{images[0].shape}")
        frame_size = images[0].shape[:2]
        if getattr(self.runtime, "takes_frames", False):  # resizes on its device
            converted = time.perf_counter()
            outputs = self.runtime.run_frames(stack(images))
            inferred = finished = time.perf_counter()
            labels, uncertainty = outputs["labels"], outputs["uncertainty"]
            model_labels, model_uncertainty = outputs["model_labels"], outputs["model_uncertainty"]
        else:
            resized = frame_size != tuple(self.image_size)
            batch = stack([resize_image(image, self.image_size) for image in images])
            converted = time.perf_counter()
            outputs = self.runtime.run(batch)
            inferred = time.perf_counter()
            model_labels, model_uncertainty = outputs["labels"], outputs["uncertainty"]
            labels, uncertainty = model_labels, model_uncertainty
            if resized:
                height, width = frame_size
                labels = [resize_nearest(m, frame_size) for m in model_labels]
                uncertainty = [cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
                               for m in model_uncertainty]
            finished = time.perf_counter()
        timings = {"convert": converted - started, "inference": inferred - converted,
                   "postprocess": finished - inferred, "total": finished - started}
        timings = {stage: seconds * 1e3 for stage, seconds in timings.items()}
        return [Prediction(label, unit.astype(np.float32, copy=False), dict(timings),
                           model_label, model_unit)
                for label, unit, model_label, model_unit in zip(
                    labels, uncertainty, model_labels, model_uncertainty, strict=True)]


def stack(images: Sequence[np.ndarray]) -> np.ndarray:
    """(N, H, W, 3); one camera's frame as a view, not a copy."""
    return images[0][None] if len(images) == 1 else np.stack(images)
