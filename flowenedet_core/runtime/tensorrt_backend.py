"""A TensorRT plan run with torch CUDA tensors as I/O buffers (no pycuda needed)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..errors import RuntimeBackendError
from ..export.onnx_export import GraphInfo
from .base import stage_means, stage_of_kernel

# TensorRT DataType names -> torch dtype names (looked up on torch when a GPU is present).
TORCH_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "UINT8": "uint8",
                "INT8": "int8", "INT32": "int32", "INT64": "int64", "BOOL": "bool"}


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, plan: bytes, info: GraphInfo, stage_of_node: dict[str, str],
                 device: str = "cuda:0") -> None:
        import tensorrt as trt
        import torch

        self._torch = torch
        self.torch_device = torch.device(device)
        self.device = f"{torch.cuda.get_device_name(self.torch_device)} (TensorRT " \
                      f"{trt.__version__})"
        self.image_size = info.image_size
        self.output_names = info.outputs
        self.stage_of_node = stage_of_node
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RuntimeBackendError("TensorRT could not deserialize the engine (built by "
                                      "another TensorRT version or GPU?): delete it to rebuild")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream(self.torch_device)
        self._trt = trt

    def _dtype(self, name: str):
        return getattr(self._torch, TORCH_DTYPES[self.engine.get_tensor_dtype(name).name])

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self._execute(images, self.context)

    def _execute(self, images: np.ndarray, context) -> dict[str, np.ndarray]:
        torch = self._torch
        with torch.cuda.stream(self.stream):
            batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device,
                                                                      non_blocking=True)
            context.set_input_shape("image", tuple(batch.shape))
            context.set_tensor_address("image", batch.data_ptr())
            outputs = {}
            for name in self.output_names:
                shape = tuple(context.get_tensor_shape(name))
                outputs[name] = torch.empty(shape, dtype=self._dtype(name),
                                            device=self.torch_device)
                context.set_tensor_address(name, outputs[name].data_ptr())
            if not context.execute_async_v3(self.stream.cuda_stream):
                raise RuntimeBackendError("TensorRT execution failed (see its log above)")
            host = {name: tensor.to("cpu", non_blocking=True) for name, tensor in outputs.items()}
        self.stream.synchronize()
        return {name: tensor.numpy() for name, tensor in host.items()}

    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        """TensorRT's per-layer profiler on a second execution context (the serving one stays
        unprofiled), layers mapped back to stages through their ONNX nodes."""
        totals: dict[str, float] = defaultdict(float)
        stage_of_node = self.stage_of_node
        base = self._trt.IProfiler

        class StageProfiler(base):
            def __init__(self) -> None:
                base.__init__(self)

            def report_layer_time(self, layer_name: str, ms: float) -> None:
                totals[stage_of_kernel(layer_name, stage_of_node)] += ms

        context = self.engine.create_execution_context()
        self._execute(images, context)  # warm-up, before the profiler is attached
        context.profiler = StageProfiler()
        for _ in range(repeats):
            self._execute(images, context)
        return stage_means(totals, repeats)
