"""`Pipeline.infer(image) -> Prediction`: the one object the node, bag replay, evaluation and the
benchmark all run, whatever the backend."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from ..data.transforms import resize_image
from ..errors import DataError
from ..export.model_spec import ModelSpec
from ..export.onnx_export import read_graph_info
from .artifacts import ensure_engine, ensure_onnx
from .base import Prediction, RuntimeBackend
from .selection import choose_backend, probe_environment

LOGGER = logging.getLogger(__name__)
DEFAULT_ARTIFACTS = Path("engines")


class Pipeline:
    """A backend plus the host work around it: checking and resizing the frame on the way in,
    resizing the outputs back to the frame's size on the way out."""

    def __init__(self, runtime: RuntimeBackend, reason: str = "") -> None:
        self.runtime = runtime
        self.reason = reason  # why this backend (logged, and shown in diagnostics)

    @property
    def backend(self) -> str:
        return self.runtime.name

    @property
    def image_size(self) -> tuple[int, int]:
        return self.runtime.image_size

    def describe(self) -> str:
        return f"{self.runtime.name} on {self.runtime.device}"

    @classmethod
    def create(cls, spec: ModelSpec | None = None, backend: str = "auto",
               onnx: str | Path | None = None, engine: str | Path | None = None,
               artifacts: str | Path = DEFAULT_ARTIFACTS, device: str | None = None,
               threads: int | None = None, compile: bool = False) -> Pipeline:
        """Build the pipeline for `spec` (or for an exported `onnx` file alone).

        ONNX files are exported to `artifacts` when missing, TensorRT engines built there on
        demand (or at `engine`, validated and rebuilt on mismatch). `compile` applies
        `torch.compile` to the torch backend."""
        if spec is None and onnx is None:
            raise DataError("a pipeline needs a model spec or an ONNX file")
        environment = probe_environment()
        name, reason = choose_backend(backend, environment)
        if name == "torch" and spec is None:
            raise DataError("backend torch runs the PyTorch model: give backbone and weights, "
                            "not only an ONNX file")
        LOGGER.info("backend %s (%s)", name, reason)
        if name == "torch":
            from .torch_backend import TorchBackend

            if threads:
                import torch

                torch.set_num_threads(threads)
            device = device or ("cuda" if environment.cuda_device else "cpu")
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

    def infer(self, image: np.ndarray) -> Prediction:
        """(H, W, 3) uint8 RGB frame of any size -> labels and uncertainty at (H, W)."""
        started = time.perf_counter()
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DataError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} "
                            f"{image.shape}")
        frame_size = image.shape[:2]
        if min(frame_size) == 0:
            raise DataError(f"empty image {image.shape}")
        resized = frame_size != tuple(self.image_size)
        batch = (resize_image(image, self.image_size) if resized else image)[None]
        converted = time.perf_counter()
        outputs = self.runtime.run(batch)
        inferred = time.perf_counter()
        labels, uncertainty = outputs["labels"][0], outputs["uncertainty"][0]
        model_labels, model_uncertainty = labels, uncertainty
        if resized:
            height, width = frame_size
            labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
            uncertainty = cv2.resize(uncertainty, (width, height), interpolation=cv2.INTER_LINEAR)
        finished = time.perf_counter()
        timings = {"convert": converted - started, "inference": inferred - converted,
                   "postprocess": finished - inferred, "total": finished - started}
        timings = {stage: seconds * 1e3 for stage, seconds in timings.items()}
        return Prediction(labels, uncertainty.astype(np.float32, copy=False), timings,
                          model_labels, model_uncertainty)
