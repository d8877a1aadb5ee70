"""Latency of the pipeline per backend: per-stage, end-to-end, backbone alone, and MACs.

Timing targets live here (and in `flowenedet bench` JSON), never in tests.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .export.graph import STAGES, InferenceGraph
from .export.model_spec import ModelSpec
from .runtime.pipeline import Pipeline

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchOptions:
    warmup: int = 3  # untimed runs first (allocations, lazy initialisation)
    repeats: int = 20  # timed frames per measurement
    profile_repeats: int = 5  # runs under each backend's profiler for the stage breakdown
    threads: int | None = None  # CPU threads for torch and onnxruntime
    compile: bool = False  # torch.compile the torch backend (CUDA graphs on a GPU)
    artifacts: Path = Path("engines")  # where ONNX files and engines are cached


def latency_summary(milliseconds: list[float]) -> dict[str, float]:
    values = np.asarray(milliseconds)
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)), "min": float(values.min())}


def time_pipeline(pipeline: Pipeline, frames: list[np.ndarray], options: BenchOptions
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """End-to-end `infer` latency over `options.repeats` frames, and its host stages' means."""
    for index in range(options.warmup):
        pipeline.infer(frames[index % len(frames)])
    totals: list[float] = []
    host: dict[str, list[float]] = {"convert": [], "postprocess": []}
    for index in range(options.repeats):
        started = time.perf_counter()
        prediction = pipeline.infer(frames[index % len(frames)])
        totals.append((time.perf_counter() - started) * 1e3)
        for stage in host:
            host[stage].append(prediction.timings[stage])
    return latency_summary(totals), {stage: float(np.mean(v)) for stage, v in host.items()}


def time_graphs(first: Pipeline, second: Pipeline, frames: list[np.ndarray],
                options: BenchOptions, block: int = 5) -> tuple[list[float], list[float]]:
    """Bare graph calls of two pipelines in alternating blocks of `block` calls, so both see
    the same machine state over the run (clock, neighbours) while each block runs cache-warm
    (call-by-call alternation evicts one model's weights for the other): the comparison of FED's
    graph with the backbone-only one. Milliseconds per call, for each."""
    batches = [frame[None] for frame in frames]
    timings: tuple[list[float], list[float]] = ([], [])
    for start in range(0, options.repeats, block):
        for pipeline, values in zip((first, second), timings, strict=True):
            for index in range(start - options.warmup, min(start + block, options.repeats)):
                started = time.perf_counter()
                pipeline.runtime.run(batches[index % len(batches)])
                if index >= start:  # the first calls of each block re-warm the caches
                    values.append((time.perf_counter() - started) * 1e3)
    return timings


def count_gmacs(graph: InferenceGraph) -> dict[str, float]:
    """Multiply-accumulates per stage for one frame (torch's FLOP counter / 2)."""
    image = torch.zeros(1, *graph.image_size, 3, dtype=torch.uint8,
                        device=next(graph.parameters()).device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        graph(image)
    counts = counter.get_flop_counts()
    result = {}
    for stage in STAGES:
        flops = sum(counts.get(f"InferenceGraph.{stage}", {}).values())
        if flops:
            result[graph.head_stage if stage == "head" else stage] = flops / 2e9
    result["total"] = sum(counts.get("Global", {}).values()) / 2e9
    return result


def bench_backend(spec: ModelSpec, backend: str, frames: list[np.ndarray],
                  options: BenchOptions) -> dict:
    """Everything `flowenedet bench` reports for one backend."""
    common = {"backend": backend, "artifacts": options.artifacts, "threads": options.threads,
              "compile": options.compile and backend == "torch"}
    pipeline = Pipeline.create(spec, **common)
    end_to_end, host = time_pipeline(pipeline, frames, options)
    stages = pipeline.runtime.profile(frames[0][None], options.profile_repeats)
    stages_ms = {"convert": host["convert"], **stages}
    stages_ms["postprocess"] = stages_ms.get("postprocess", 0.0) + host["postprocess"]
    backbone_only = Pipeline.create(spec.backbone_only(), **common)
    graph, backbone = time_graphs(pipeline, backbone_only, frames, options)
    graph_ms, backbone_ms = float(np.median(graph)), float(np.median(backbone))
    overhead = float(np.median(np.subtract(graph, backbone)))
    result = {"device": pipeline.describe(), "head": spec.head_name, "stages_ms": stages_ms,
              "end_to_end_ms": end_to_end, "throughput_fps": 1e3 / end_to_end["mean"],
              "graph_ms": graph_ms, "backbone_only_ms": backbone_ms,
              "head_overhead_ms": overhead, "head_overhead_pct": 100 * overhead / backbone_ms,
              # best-of estimate, the least disturbed by a noisy machine
              "head_overhead_pct_min": 100 * (min(graph) - min(backbone)) / min(backbone)}
    LOGGER.info("%s: %.1f ms end to end; graph %.1f ms vs backbone alone %.1f ms (+%.1f %%)",
                backend, end_to_end["mean"], graph_ms, backbone_ms,
                result["head_overhead_pct"])
    return result


def environment_summary() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
