"""`flowenedet bench`: per-stage and end-to-end latency of every requested backend."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from ..benchmark import BenchOptions, bench_backend, count_gmacs, environment_summary
from ..data.frames import load_frames
from ..errors import FlowenedetError
from ..runtime.selection import BACKEND_NAMES
from .common import LOGGER
from .model_args import add_model_arguments, model_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = BenchOptions()
    parser = subparsers.add_parser(
        "bench", help="latency per stage and end to end, per backend (JSON)",
        description="Times the Pipeline on real frames (--images) for each backend: host "
                    "convert, preprocess, backbone, FED, postprocess (from each backend's "
                    "profiler), end-to-end mean/p50/p99 and throughput, and FED's cost: the "
                    "graph against the labels-only backbone graph on the same backend, called "
                    "alternately (medians). Also counts MACs.")
    add_model_arguments(parser, timing_only=True)
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help=f"comma-separated from {', '.join(BACKEND_NAMES[1:])}")
    parser.add_argument("--precisions", default="fp32",
                        help="comma-separated backbone precisions for the torch backend "
                             "(fp32, fp16, bf16; half precisions need CUDA)")
    parser.add_argument("--torch-compile", action="store_true",
                        help="also time the torch backend under torch.compile (CUDA graphs "
                             "on a GPU)")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of frames (searched recursively); default: random frames")
    parser.add_argument("--frames", type=int, default=8, help="distinct frames cycled through")
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument("--engines", type=Path, default=defaults.artifacts,
                        help="cache of ONNX files and engines (default engines/)")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    size = spec.resolved_size()
    frames, source = load_frames(args.images, args.frames, size)
    options = BenchOptions(warmup=args.warmup, repeats=args.repeats, threads=args.threads,
                           artifacts=args.engines)
    runs = []
    for backend in filter(None, args.backends.split(",")):
        if backend != "torch":
            runs.append((backend, backend, "fp32", False))
            continue
        for precision in args.precisions.split(","):
            suffix = "" if precision == "fp32" else f"-{precision}"
            runs.append((f"torch{suffix}", backend, precision, False))
            if args.torch_compile:
                runs.append((f"torch-compile{suffix}", backend, precision, True))
    results: dict[str, dict] = {}
    for label, backend, precision, compiled in runs:
        try:
            results[label] = bench_backend(replace(spec, precision=precision), backend,
                                           frames, replace(options, compile=compiled))
        except FlowenedetError as error:  # one backend missing must not hide the others
            LOGGER.warning("%s skipped: %s", label, error)
            results[label] = {"skipped": str(error)}
    report = {"model": {"backbone": spec.backbone, "head": spec.head_name,
                        "weights": str(spec.weights) if spec.weights else "random",
                        "fed": str(spec.fed) if spec.fed else (
                            "untrained " + json.dumps(spec.untrained_fed.to_dict())
                            if spec.untrained_fed else None),
                        "size": list(size), "tta_scales": list(spec.tta_scales),
                        "gmacs": count_gmacs(spec.build_graph())},
              "frames": {"source": source, "count": len(frames), "repeats": options.repeats},
              "environment": environment_summary(), "backends": results}
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        LOGGER.info("wrote %s", args.json)
    return 0


def format_table(report: dict) -> str:
    model = report["model"]
    gmacs = ", ".join(f"{k} {v:.2f}" for k, v in model["gmacs"].items())
    lines = [f"{model['backbone']} + {model['head']} at {model['size'][0]}x{model['size'][1]}"
             f" ({report['frames']['source']}); GMAC: {gmacs}", "",
             "| backend | stages ms | end-to-end mean / p50 / p99 ms | fps | graph ms | "
             "backbone only ms | head + |", "|---|---|---|---|---|---|---|"]
    for name, result in report["backends"].items():
        if "skipped" in result:
            lines.append(f"| {name} | skipped: {result['skipped']} | | | | | |")
            continue
        stages = ", ".join(f"{k} {v:.1f}" for k, v in result["stages_ms"].items())
        e2e = result["end_to_end_ms"]
        lines.append(f"| {name} | {stages} | {e2e['mean']:.1f} / {e2e['p50']:.1f} / "
                     f"{e2e['p99']:.1f} | {result['throughput_fps']:.2f} | "
                     f"{result['graph_ms']:.1f} | {result['backbone_only_ms']:.1f} | "
                     f"{result['head_overhead_pct']:+.1f} % |")
    return "\n".join(lines)
