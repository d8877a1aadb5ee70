"""The torch backend of the GPU path: frames in and out at the camera's size, CUDA graphs.

Per input shape (cameras, height, width) the `FrameGraph` is warmed up on a side stream and
captured once as a CUDA graph; a frame is then a copy into a pinned staging buffer, one
asynchronous upload of the uint8 frame, one graph replay (resize, normalisation, backbone, head,
argmax, upsampling) and the download of the uint8 labels and the uncertainty. On the CPU, or when
a capture fails, the same module runs eagerly (the reason is kept in `fallback` and logged).
"""

from __future__ import annotations

import contextlib
import logging
import time

import numpy as np
import torch

from ..export.graph import InferenceGraph
from ..export.model_spec import DTYPES
from .capture_gate import GATE
from .frame_graph import FrameGraph
from .torch_backend import device_name, profile_stages, synchronize, time_calls

LOGGER = logging.getLogger(__name__)
CAPTURE_WARMUP = 3  # eager runs on a side stream before capture (cuDNN autotuning, allocations)


class ShapeRunner:
    """Everything one input shape needs: device input, pinned staging in and out, the graph.
    On a GPU all of its work goes to `stream`, so runners of several cameras can overlap."""

    def __init__(self, module: FrameGraph, shape: tuple[int, ...], device: torch.device,
                 outputs: int, capture: bool, stream: torch.cuda.Stream | None) -> None:
        self.module = module
        self.outputs = outputs  # how many of the module's outputs come back to the host
        self.stream = stream  # None on the CPU
        self.input = torch.zeros(shape, dtype=torch.uint8, device=device)
        # pinned host copy of the frames (GPU only: on the CPU the frames themselves go in)
        self.staging = None if stream is None else torch.zeros(shape, dtype=torch.uint8,
                                                                  pin_memory=True)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_outputs: tuple[torch.Tensor, ...] = ()
        self.host_outputs: list[torch.Tensor] = []
        if capture:
            self._capture()

    def on_stream(self) -> contextlib.AbstractContextManager:
        return torch.cuda.stream(self.stream) if self.stream is not None else \
            contextlib.nullcontext()

    @torch.inference_mode()
    def _capture(self) -> None:
        with self.on_stream():  # warm-up off the default stream, as capture requires
            for _ in range(CAPTURE_WARMUP):
                self.module(self.input)
        self.stream.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.static_outputs = self.module(self.input)
        self.graph = graph
        self.host_outputs = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
                             for t in self.static_outputs[:self.outputs]]

    @torch.inference_mode()
    def forward_on_device(self) -> tuple[torch.Tensor, ...]:
        """The module on what `self.input` holds: a graph replay, or an eager call."""
        if self.graph is not None:
            self.graph.replay()
            return self.static_outputs
        return self.module(self.input)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> list[np.ndarray]:
        if self.stream is None:
            # writable: frames decoded from messages are read-only views torch warns about
            self.input = torch.from_numpy(np.require(frames, requirements=["C", "W"]))
            return [t.numpy() for t in self.forward_on_device()[:self.outputs]]
        with self.on_stream():
            self.staging.numpy()[...] = frames
            self.input.copy_(self.staging, non_blocking=True)
            outputs = self.forward_on_device()[:self.outputs]
            if self.graph is None:  # eager outputs are fresh tensors of their own
                return [t.cpu().numpy() for t in outputs]
            for host, output in zip(self.host_outputs, outputs, strict=True):
                host.copy_(output, non_blocking=True)
            self.stream.synchronize()
        # copies: the pinned buffers are overwritten by the next frame
        return [host.numpy().copy() for host in self.host_outputs]


class FrameTorchBackend:
    """`FrameGraph` on one device. `run_frames` takes frames at any size; `run` is the
    `RuntimeBackend` contract (frames at the model's size)."""

    name = "torch"
    takes_frames = True

    def __init__(self, graph: InferenceGraph, device: str | torch.device = "cuda",
                 cuda_graphs: bool = True) -> None:
        self.torch_device = torch.device(device)
        self.graph = graph.to(self.torch_device).eval()
        self.cuda = self.torch_device.type == "cuda"
        if self.cuda:
            torch.backends.cudnn.benchmark = True  # one shape per runner: autotuning pays
            self.graph.backbone.to(memory_format=torch.channels_last)
        self.module = FrameGraph(self.graph)
        dtype = next(self.graph.backbone.parameters()).dtype
        self.precision = next(name for name, value in DTYPES.items() if value == dtype)
        self.cuda_graphs = cuda_graphs and self.cuda
        self.fallback = None if self.cuda or not cuda_graphs else "CUDA graphs need a CUDA GPU"
        self.image_size = graph.image_size
        self.output_names = graph.output_names
        self.device = device_name(self.torch_device)
        self.stream = torch.cuda.Stream(self.torch_device) if self.cuda else None
        self._runners: dict[tuple[int, ...], ShapeRunner] = {}

    def describe(self) -> str:
        """'CUDA graphs, fp16 backbone, fused FED flow' (the start-up log and diagnostics)."""
        mode = "CUDA graphs" if self.cuda_graphs else "eager"
        flow = getattr(self.graph.head, "describe_flow", None)
        return f"{mode}, {self.precision} backbone" + (
            f" (eager: {self.fallback})" if self.fallback and self.cuda else "") + (
            f", {flow()}" if flow else "")

    def prepare(self, shape: tuple[int, ...]) -> float:
        """Warm up (and on CUDA capture) the runner of frames of `shape` (N, H, W, 3); seconds
        taken. A failed capture leaves the eager module for every shape, with the reason."""
        shape = tuple(shape)
        if shape in self._runners:
            return 0.0
        with GATE.capturing():  # no other frame path of the process runs meanwhile
            if shape in self._runners:  # prepared by another thread while this one waited
                return 0.0
            return self._prepare(shape)

    def _prepare(self, shape: tuple[int, ...]) -> float:
        started = time.perf_counter()
        # at the frame's size and at the model's (the same maps when the sizes are equal)
        count = len(self.output_names) * (1 if shape[1:3] == self.image_size else 2)
        try:
            runner = ShapeRunner(self.module, shape, self.torch_device, count, self.cuda_graphs,
                                 self.stream)
        except RuntimeError as error:  # torch.cuda.OutOfMemoryError among them
            self.cuda_graphs = False
            self.fallback = f"CUDA graph capture failed: {str(error).splitlines()[0]}"
            LOGGER.warning("%s; running eagerly", self.fallback)
            torch.cuda.synchronize(self.torch_device)
            runner = ShapeRunner(self.module, shape, self.torch_device, count, False,
                                 self.stream)
        if not self.cuda_graphs:  # eager warm-up: lazy initialisation, autotuning
            runner(np.zeros(shape, np.uint8))
        synchronize(self.torch_device)
        self._runners[shape] = runner
        seconds = time.perf_counter() - started
        LOGGER.info("%s: frames %s ready in %.2f s", self.describe(), "x".join(map(str, shape)),
                    seconds)
        return seconds

    def _runner(self, shape: tuple[int, ...]) -> ShapeRunner:
        if tuple(shape) not in self._runners:
            self.prepare(shape)
        return self._runners[tuple(shape)]

    def run_frames(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, W, 3) uint8 at any size -> labels / uncertainty at (H, W), and
        model_labels / model_uncertainty at the model's size."""
        runner = self._runner(frames.shape)  # prepared first: a capture waits for runs
        with GATE.running():
            maps = runner(frames)
        frame_maps, model_maps = maps[:len(self.output_names)], maps[len(self.output_names):]
        outputs = dict(zip(self.output_names, frame_maps, strict=True))
        for name, values in zip(self.output_names, model_maps or frame_maps, strict=True):
            outputs[f"model_{name}"] = values
        return outputs

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.run_frames(images)
        return {name: outputs[name] for name in self.output_names}

    def time_device(self, images: np.ndarray, repeats: int) -> list[float]:
        """Milliseconds of the graph alone per call (input already on the device, outputs left
        there)."""
        runner = self._runner(images.shape)
        with GATE.running():
            runner(images)  # uploads `images` into the runner's input
            with runner.on_stream():
                return time_calls(runner.forward_on_device, self.torch_device, repeats)

    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        """Per-stage milliseconds of the eager graph (a replayed graph has no stage hooks)."""
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        return profile_stages(self.graph, batch, repeats)
