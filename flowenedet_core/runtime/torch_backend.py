"""The `InferenceGraph` module itself, eager, on CPU or CUDA."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import torch

from ..export.graph import STAGES, InferenceGraph
from .base import stage_means


def device_name(device: torch.device) -> str:
    """The device in words, for logs and diagnostics."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def time_calls(call: Callable[[], object], device: torch.device, repeats: int) -> list[float]:
    """Milliseconds per `call()`: CUDA events around each on a GPU (device time, never the
    launch's return), the wall clock on the CPU."""
    timings = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            start.record()
            call()
            end.record()
            end.synchronize()
            timings.append(start.elapsed_time(end))
        else:
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1e3)
    return timings


@torch.inference_mode()
def profile_stages(graph: InferenceGraph, batch: torch.Tensor, repeats: int) -> dict[str, float]:
    """Mean milliseconds per stage of the eager graph: forward hooks around the stage modules,
    synchronising CUDA at each boundary."""
    device = batch.device
    totals: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    handles = []
    for stage in STAGES:
        module = getattr(graph, stage)
        if module is None:
            continue
        name = graph.head_stage if stage == "head" else stage

        def before(_module, _inputs, name=name) -> None:
            synchronize(device)
            started[name] = time.perf_counter()

        def after(_module, _inputs, _outputs, name=name) -> None:
            synchronize(device)
            totals[name] += (time.perf_counter() - started[name]) * 1e3

        handles += [module.register_forward_pre_hook(before),
                    module.register_forward_hook(after)]
    try:
        for _ in range(repeats):
            graph(batch)
    finally:
        for handle in handles:
            handle.remove()
    return stage_means(totals, repeats)


class TorchBackend:
    """Eager by default; `compile=True` runs `torch.compile` (CUDA graphs on a GPU through its
    reduce-overhead mode). The stage profile always times the eager module."""

    name = "torch"

    def __init__(self, graph: InferenceGraph, device: str | torch.device = "cpu",
                 compile: bool = False) -> None:
        self.graph = graph.to(device).eval()
        self.torch_device = torch.device(device)
        self.module = self.graph
        if compile:
            mode = "reduce-overhead" if self.torch_device.type == "cuda" else "default"
            self.module = torch.compile(self.graph, mode=mode, dynamic=False)
        self.device = device_name(self.torch_device)
        self.image_size = graph.image_size
        self.output_names = graph.output_names

    @torch.inference_mode()
    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        outputs = self.module(batch)
        return {name: tensor.cpu().numpy() for name, tensor in zip(self.output_names, outputs,
                                                                     strict=True)}

    def time_device(self, images: np.ndarray, repeats: int) -> list[float]:
        """Milliseconds of the module alone per call, input already on the device."""
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        return time_calls(lambda: self.module(batch), self.torch_device, repeats)

    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        return profile_stages(self.graph, batch, repeats)
