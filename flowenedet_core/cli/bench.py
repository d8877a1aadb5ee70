"""`flowenedet bench`: per-stage and end-to-end latency of every requested backend."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..benchmark import (
    CPU_REPEATS,
    CUDA_REPEATS,
    BenchOptions,
    bench_backend,
    bench_cameras,
    count_gmacs,
    environment_summary,
)
from ..data.frames import load_frames
from ..data.transforms import parse_size
from ..errors import FlowenedetError
from ..runtime.pipeline import GpuOptions
from ..runtime.selection import BACKEND_NAMES
from .common import LOGGER
from .model_args import add_engines_argument, add_model_arguments, model_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = BenchOptions()
    parser = subparsers.add_parser(
        "bench", help="latency per stage and end to end, per backend (JSON)",
        description="Times the Pipeline on frames (--images, at their own size unless "
                    "--camera-size) for what `auto` picks and each requested backend: host "
                    "convert, preprocess, backbone, FED, postprocess (from each backend's "
                    "profiler), end-to-end mean/p50/p99 and throughput, and FED's cost: the "
                    "graph against the labels-only backbone graph on the same backend, called "
                    "alternately (medians; CUDA events on a GPU). Also counts MACs, and with "
                    "--cameras times several cameras sharing the device.")
    add_model_arguments(parser, timing_only=True)
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help=f"comma-separated from {', '.join(BACKEND_NAMES[1:])}; `auto` "
                             "(what the node runs by default) is always timed first")
    parser.add_argument("--precisions", default="fp32",
                        help="comma-separated backbone precisions of the torch variants "
                             "(fp32, fp16, bf16; half precisions need CUDA)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="also time the eager torch backend under torch.compile")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of frames (searched recursively); default: random frames")
    parser.add_argument("--frames", type=int, default=8, help="distinct frames cycled through")
    parser.add_argument("--camera-size", type=parse_size, default=None,
                        help="resize the frames to HxW first (what the camera sends); default: "
                             "their own size (random frames: the model's)")
    parser.add_argument("--cameras", default="",
                        help="comma-separated camera counts (e.g. 1,2,4): per-camera latency "
                             "and total frames/s of `auto`, batched and one pipeline per camera")
    parser.add_argument("--parity-images", type=Path, default=None,
                        help="frames of the GPU path's precision check (default: synthetic)")
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed frames (default {CUDA_REPEATS} on a GPU, {CPU_REPEATS} on "
                             "the CPU)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    add_engines_argument(parser)
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class BenchRun:
    label: str
    backend: str
    precision: str = "fp32"
    compile: bool = False
    gpu_mode: str = "auto"
    precisions: tuple[str, ...] | None = None  # GPU path's candidates; None: its default
    fused_fed: bool = True  # GPU path: FED's flow as Triton kernels


def bench_runs(args: argparse.Namespace, cuda: bool) -> list[BenchRun]:
    """`auto` first (on a GPU also with the PyTorch flow instead of the fused one), then each
    backend's variants."""
    runs = [BenchRun("auto", "auto")]
    if cuda and (args.fed is not None or args.fed_config is not None):
        runs.append(BenchRun("auto-pytorch-flow", "auto", fused_fed=False))
    for backend in filter(None, args.backends.split(",")):
        if backend != "torch":
            runs.append(BenchRun(backend, backend))
            continue
        for precision in args.precisions.split(","):
            suffix = "" if precision == "fp32" else f"-{precision}"
            runs.append(BenchRun(f"torch-eager{suffix}", "torch", precision, gpu_mode="eager"))
            if cuda:
                runs.append(BenchRun(f"torch-graphs{suffix}", "torch", precision,
                                     precisions=()))
            if args.torch_compile:
                runs.append(BenchRun(f"torch-compile{suffix}", "torch", precision, True,
                                     gpu_mode="eager"))
    return runs


def run(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    size = spec.resolved_size()
    frames, source = load_frames(args.images, args.frames, args.camera_size or (
        None if args.images else size))
    gpu = GpuOptions(parity_images=args.parity_images)
    options = BenchOptions(warmup=args.warmup, repeats=args.repeats, threads=args.threads,
                           artifacts=args.engines, gpu=gpu)
    results: dict[str, dict] = {}
    for bench in bench_runs(args, torch.cuda.is_available()):
        precisions = gpu.precisions if bench.precisions is None else bench.precisions
        run_options = replace(options, compile=bench.compile, gpu=replace(
            gpu, mode=bench.gpu_mode, precisions=precisions, fused_fed=bench.fused_fed))
        try:
            results[bench.label] = bench_backend(replace(spec, precision=bench.precision),
                                                 bench.backend, frames, run_options)
        except FlowenedetError as error:  # one backend missing must not hide the others
            LOGGER.warning("%s skipped: %s", bench.label, error)
            results[bench.label] = {"skipped": str(error)}
    report = {"model": {"backbone": spec.backbone, "head": spec.head_name,
                        "weights": str(spec.weights) if spec.weights else "random",
                        "fed": str(spec.fed) if spec.fed else (
                            "untrained " + json.dumps(spec.untrained_fed.to_dict())
                            if spec.untrained_fed else None),
                        "size": list(size), "tta_scales": list(spec.tta_scales),
                        "gmacs": count_gmacs(spec.build_graph())},
              "frames": {"source": source, "count": len(frames),
                         "size": list(frames[0].shape[:2]), "repeats": options.timed_frames()},
              "environment": environment_summary(), "backends": results,
              "summary": summarize(results)}
    if args.cameras:
        counts = [int(count) for count in args.cameras.split(",")]
        report["cameras"] = bench_cameras(spec, "auto", frames, counts, options)
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        LOGGER.info("wrote %s", args.json)
    return 0


def summarize(results: dict[str, dict]) -> dict:
    """The fastest configuration end to end (p50), and `auto` against it and against eager
    fp32 torch."""
    timed = {label: r["end_to_end_ms"]["p50"] for label, r in results.items()
             if "end_to_end_ms" in r}
    if not timed:
        return {}
    best = min(timed, key=timed.get)
    summary = {"best": best, "best_p50_ms": timed[best]}
    if "auto" in timed:
        summary["auto_over_best"] = timed["auto"] / timed[best]
        if "torch-eager" in timed:
            summary["auto_speedup_over_torch_eager_fp32"] = timed["torch-eager"] / timed["auto"]
    return summary


def format_table(report: dict) -> str:
    model = report["model"]
    gmacs = ", ".join(f"{k} {v:.2f}" for k, v in model["gmacs"].items())
    frame_size = "x".join(map(str, report["frames"]["size"]))
    lines = [f"{model['backbone']} + {model['head']} at {model['size'][0]}x{model['size'][1]}"
             f" ({report['frames']['source']}, frames {frame_size}); GMAC: {gmacs}", "",
             "| backend | precision | stages ms | end-to-end mean / p50 / p99 ms | fps | "
             "graph ms | backbone only ms | head + |", "|---|---|---|---|---|---|---|---|"]
    for name, result in report["backends"].items():
        if "skipped" in result:
            lines.append(f"| {name} | | skipped: {result['skipped']} | | | | | |")
            continue
        stages = ", ".join(f"{k} {v:.1f}" for k, v in result["stages_ms"].items())
        e2e = result["end_to_end_ms"]
        lines.append(f"| {name} | {result['precision']} | {stages} | {e2e['mean']:.1f} / "
                     f"{e2e['p50']:.1f} / {e2e['p99']:.1f} | {result['throughput_fps']:.2f} | "
                     f"{result['graph_ms']:.2f} | {result['backbone_only_ms']:.2f} | "
                     f"{result['head_overhead_pct']:+.1f} % |")
    summary = report["summary"]
    if "auto_over_best" in summary:
        lines.append(f"\nauto is {summary['auto_over_best']:.2f}x the best ({summary['best']})"
                     + (f", {summary['auto_speedup_over_torch_eager_fp32']:.1f}x faster than "
                        "eager fp32 torch" if "auto_speedup_over_torch_eager_fp32" in summary
                        else ""))
    for mode, counts in report.get("cameras", {}).items():
        for count, result in counts.items():
            latency = result["latency_ms"]
            lines.append(f"{count} camera(s), {mode}: per-camera p50 {latency['p50']:.1f} ms, "
                         f"p99 {latency['p99']:.1f} ms, {result['total_fps']:.1f} frames/s in "
                         "total")
    return "\n".join(lines)
