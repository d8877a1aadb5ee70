"""The `InferenceGraph` module itself, eager, on CPU or CUDA."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import torch

from ..export.graph import STAGES, InferenceGraph
from .base import stage_means


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
        self.device = (torch.cuda.get_device_name(self.torch_device)
                       if self.torch_device.type == "cuda" else
                       f"cpu ({torch.get_num_threads()} threads)")
        self.image_size = graph.image_size
        self.output_names = graph.output_names

    def _synchronize(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize(self.torch_device)

    @torch.inference_mode()
    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        outputs = self.module(batch)
        return {name: tensor.cpu().numpy() for name, tensor in zip(self.output_names, outputs,
                                                                     strict=True)}

    @torch.inference_mode()
    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        """Forward hooks around the four stage modules, synchronising CUDA at each boundary."""
        totals: dict[str, float] = defaultdict(float)
        started: dict[str, float] = {}
        handles = []
        for stage in STAGES:
            module = getattr(self.graph, stage)
            if module is None:
                continue
            name = self.graph.head_stage if stage == "head" else stage

            def before(_module, _inputs, name=name) -> None:
                self._synchronize()
                started[name] = time.perf_counter()

            def after(_module, _inputs, _outputs, name=name) -> None:
                self._synchronize()
                totals[name] += (time.perf_counter() - started[name]) * 1e3

            handles += [module.register_forward_pre_hook(before),
                        module.register_forward_hook(after)]
        batch = torch.from_numpy(np.ascontiguousarray(images)).to(self.torch_device)
        try:
            for _ in range(repeats):
                self.graph(batch)
        finally:
            for handle in handles:
                handle.remove()
        return stage_means(totals, repeats)
