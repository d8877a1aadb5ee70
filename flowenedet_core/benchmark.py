"""Latency of the pipeline per backend: per-stage, end-to-end, backbone alone, cameras sharing a
device, and MACs.

Timing targets live here (and in `flowenedet bench` JSON), never in tests. On a GPU the graph time
is measured with CUDA events (device time; a launch returns before the work is done), warm-up and
CUDA graph capture are excluded, and end to end (host wall clock of `Pipeline.infer`, which waits
for its outputs) is checked never to be below the graph time.
"""

from __future__ import annotations

import contextlib
import logging
import platform
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from .data.transforms import resize_image
from .export.graph import STAGES, InferenceGraph
from .export.model_spec import ModelSpec
from .runtime.pipeline import GpuOptions, Pipeline

LOGGER = logging.getLogger(__name__)
CUDA_REPEATS = 200  # timed frames per measurement on a GPU (p99 needs a few hundred)
CPU_REPEATS = 20


@dataclass(frozen=True)
class BenchOptions:
    warmup: int = 3  # untimed runs first (allocations, lazy initialisation, autotuning)
    repeats: int | None = None  # timed frames per measurement; None: 200 on CUDA, 20 on CPU
    profile_repeats: int = 5  # runs under each backend's profiler for the stage breakdown
    threads: int | None = None  # CPU threads for torch and onnxruntime
    compile: bool = False  # torch.compile the eager torch backend
    gpu: GpuOptions = field(default_factory=GpuOptions)  # how torch runs on a CUDA GPU
    artifacts: Path | None = None  # where ONNX files and engines are cached (None: the cache)

    def timed_frames(self) -> int:
        if self.repeats is not None:
            return self.repeats
        return CUDA_REPEATS if torch.cuda.is_available() else CPU_REPEATS


def latency_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(milliseconds)
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)), "min": float(values.min())}


def time_pipeline(pipeline: Pipeline, frames: Sequence[np.ndarray], options: BenchOptions
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """End-to-end `infer` latency over the timed frames, and its host stages' means."""
    for index in range(options.warmup):
        pipeline.infer(frames[index % len(frames)])
    totals: list[float] = []
    host: dict[str, list[float]] = {"convert": [], "postprocess": []}
    for index in range(options.timed_frames()):
        started = time.perf_counter()
        prediction = pipeline.infer(frames[index % len(frames)])
        totals.append((time.perf_counter() - started) * 1e3)
        for stage in host:
            host[stage].append(prediction.timings[stage])
    return latency_summary(totals), {stage: float(np.mean(v)) for stage, v in host.items()}


def graph_timings(pipeline: Pipeline, batch: np.ndarray, calls: int) -> list[float]:
    """Milliseconds per bare graph call: the backend's device timer where it has one (torch:
    CUDA events on a GPU), else the wall clock around `run`."""
    runtime = pipeline.runtime
    if hasattr(runtime, "time_device"):
        return runtime.time_device(batch, calls)
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        runtime.run(batch)
        timings.append((time.perf_counter() - started) * 1e3)
    return timings


def time_graphs(first: Pipeline, second: Pipeline, batches: Sequence[np.ndarray],
                options: BenchOptions, block: int = 5) -> tuple[list[float], list[float]]:
    """Bare graph calls of two pipelines in alternating blocks of `block` calls, so both see
    the same machine state over the run (clock, neighbours) while each block runs cache-warm
    (call-by-call alternation evicts one model's weights for the other): the comparison of FED's
    graph with the backbone-only one. Milliseconds per call, for each."""
    timings: tuple[list[float], list[float]] = ([], [])
    repeats = options.timed_frames()
    for start in range(0, repeats, block):
        calls = min(block, repeats - start)
        batch = batches[(start // block) % len(batches)]
        for pipeline, values in zip((first, second), timings, strict=True):
            # the first calls of each block re-warm the caches
            values += graph_timings(pipeline, batch, options.warmup + calls)[options.warmup:]
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


def create_pipeline(spec: ModelSpec, backend: str, options: BenchOptions) -> Pipeline:
    return Pipeline.create(spec, backend=backend, artifacts=options.artifacts,
                           threads=options.threads, compile=options.compile, gpu=options.gpu)


def backbone_reference(spec: ModelSpec, pipeline: Pipeline, backend: str,
                       options: BenchOptions) -> Pipeline:
    """The labels-only graph, run as `pipeline` runs (same backend, mode and precision)."""
    precision = getattr(pipeline.runtime, "precision", spec.precision)
    gpu = replace(options.gpu, precisions=())  # no second precision choice: the same one
    return create_pipeline(replace(spec.backbone_only(), precision=precision), backend,
                           replace(options, gpu=gpu))


def timer_name(pipeline: Pipeline) -> str:
    device = getattr(pipeline.runtime, "torch_device", None)
    on_gpu = device is not None and device.type == "cuda"
    return "cuda events" if on_gpu and hasattr(pipeline.runtime, "time_device") else "wall clock"


def timing_check(end_to_end: dict[str, float], graph_ms: float) -> str:
    """'ok', or why the numbers cannot be trusted: a frame end to end includes its graph."""
    if end_to_end["p50"] >= graph_ms:
        return "ok"
    message = (f"end-to-end p50 {end_to_end['p50']:.2f} ms is below the graph's "
               f"{graph_ms:.2f} ms: the timings are not trustworthy")
    LOGGER.warning(message)
    return message


def bench_backend(spec: ModelSpec, backend: str, frames: Sequence[np.ndarray],
                  options: BenchOptions) -> dict:
    """Everything `flowenedet bench` reports for one backend. `frames` are what a camera
    sends (any size); graph timings run on them resized to the model's size."""
    pipeline = create_pipeline(spec, backend, options)
    end_to_end, host = time_pipeline(pipeline, frames, options)
    batches = [resize_image(frame, pipeline.image_size)[None] for frame in frames]
    stages = pipeline.runtime.profile(batches[0], options.profile_repeats)
    stages_ms = {"convert": host["convert"], **stages}
    stages_ms["postprocess"] = stages_ms.get("postprocess", 0.0) + host["postprocess"]
    backbone_only = backbone_reference(spec, pipeline, backend, options)
    graph, backbone = time_graphs(pipeline, backbone_only, batches, options)
    graph_ms, backbone_ms = float(np.median(graph)), float(np.median(backbone))
    overhead = float(np.median(np.subtract(graph, backbone)))
    result = {"device": pipeline.describe(), "configuration": pipeline.reason,
              "precision": getattr(pipeline.runtime, "precision", spec.precision),
              "head": spec.head_name, "frame_size": list(frames[0].shape[:2]),
              "timer": timer_name(pipeline),
              "stages_ms": stages_ms, "end_to_end_ms": end_to_end,
              "throughput_fps": 1e3 / end_to_end["mean"],
              "graph_ms": graph_ms, "graph_p99_ms": float(np.percentile(graph, 99)),
              "backbone_only_ms": backbone_ms,
              "head_overhead_ms": overhead, "head_overhead_pct": 100 * overhead / backbone_ms,
              # best-of estimate, the least disturbed by a noisy machine
              "head_overhead_pct_min": 100 * (min(graph) - min(backbone)) / min(backbone),
              "timing_check": timing_check(end_to_end, graph_ms)}
    LOGGER.info("%s: %.1f ms end to end; graph %.1f ms vs backbone alone %.1f ms (+%.1f %%)",
                backend, end_to_end["mean"], graph_ms, backbone_ms,
                result["head_overhead_pct"])
    return result


def bench_cameras(spec: ModelSpec, backend: str, frames: Sequence[np.ndarray],
                  counts: Sequence[int], options: BenchOptions) -> dict:
    """Several cameras on one device, two ways, per camera count:
    `batched`: one pipeline, each step one batch of every camera's frame (one process serving
    several camera namespaces); `pipelines`: a pipeline per camera, each in its own thread with
    its own CUDA stream (several nodes in one component container). Per-camera latency and the
    total frames per second."""
    result: dict[str, dict] = {"batched": {}, "pipelines": {}}
    steps = options.timed_frames()
    shared = create_pipeline(spec, backend, options)
    for count in counts:
        batches = [[frames[(step * count + camera) % len(frames)] for camera in range(count)]
                   for step in range(steps + options.warmup)]
        for batch in batches[:options.warmup]:
            shared.infer_batch(batch)
        latencies = []
        started = time.perf_counter()
        for batch in batches[options.warmup:]:
            began = time.perf_counter()
            shared.infer_batch(batch)
            latencies.append((time.perf_counter() - began) * 1e3)
        wall = time.perf_counter() - started
        result["batched"][str(count)] = {"latency_ms": latency_summary(latencies),
                                         "total_fps": count * steps / wall}
        pipelines = [shared] + [create_pipeline(spec, backend, options)
                                for _ in range(count - 1)]
        result["pipelines"][str(count)] = concurrent_cameras(pipelines, frames, steps,
                                                             options.warmup)
        del pipelines
    return result


def concurrent_cameras(pipelines: Sequence[Pipeline], frames: Sequence[np.ndarray], steps: int,
                       warmup: int) -> dict:
    """Each pipeline infers `steps` frames in its own thread, all at once."""
    latencies: list[list[float]] = [[] for _ in pipelines]
    barrier = threading.Barrier(len(pipelines) + 1)
    failures: list[BaseException] = []

    def camera(index: int) -> None:
        try:
            for step in range(warmup):
                pipelines[index].infer(frames[(step + index) % len(frames)])
            barrier.wait()
            for step in range(steps):
                began = time.perf_counter()
                pipelines[index].infer(frames[(step + index) % len(frames)])
                latencies[index].append((time.perf_counter() - began) * 1e3)
        except BaseException as error:  # reported after the join, not lost in the thread
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=camera, args=(index,)) for index in range(len(pipelines))]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a camera failed: raised below
        barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise failures[0]
    return {"latency_ms": latency_summary([v for values in latencies for v in values]),
            "per_camera_p50_ms": [float(np.percentile(v, 50)) for v in latencies],
            "total_fps": len(pipelines) * steps / wall}


def gpu_driver_version() -> str | None:
    """The NVIDIA driver's version (nvidia-smi), None where it cannot be asked."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        output = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                 "--format=csv,noheader"], capture_output=True, text=True,
                                timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return output.strip().splitlines()[0] if output.strip() else None


def environment_summary() -> dict:
    summary = {"python": platform.python_version(), "torch": torch.__version__,
               "cpu": platform.processor() or platform.machine(),
               "torch_threads": torch.get_num_threads(), "cuda": None}
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        summary["cuda"] = {"device": properties.name,
                           "capability": f"{properties.major}.{properties.minor}",
                           "memory_gib": round(properties.total_memory / 2 ** 30, 1),
                           "cuda_runtime": torch.version.cuda,
                           "cudnn": torch.backends.cudnn.version(),
                           "driver": gpu_driver_version()}
    return summary
