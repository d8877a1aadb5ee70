"""`flowenedet build-engine`: build (or validate) the TensorRT engine for a model and exit."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engines.cache import cache_dir
from ..errors import RuntimeBackendError
from ..runtime.artifacts import ensure_engine, ensure_onnx
from ..runtime.selection import probe_environment
from .common import LOGGER
from .model_args import add_engines_argument, add_model_arguments, model_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build-engine", help="build the TensorRT engine for a model (build only)",
        description="Export the model to ONNX if needed and build its TensorRT engine into the "
                    "engine cache (keyed by ONNX hash, TensorRT version, GPU, precision and "
                    "shape). An existing valid engine is kept; a stale one is rebuilt.")
    add_model_arguments(parser)
    parser.add_argument("--precision", choices=["fp32", "fp16"], default="fp16")
    add_engines_argument(parser)
    parser.add_argument("--engine", type=Path, default=None,
                        help="engine file to write instead of a cache name")
    parser.add_argument("--max-batch", type=int, default=1)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    environment = probe_environment()
    if environment.tensorrt_version is None or environment.cuda_device is None:
        missing = "TensorRT is not installed" if environment.tensorrt_version is None else \
            "there is no CUDA GPU"
        raise RuntimeBackendError(f"cannot build an engine here: {missing}")
    spec = model_spec(args)
    directory = cache_dir(args.engines)
    onnx_path = ensure_onnx(spec, directory)
    _, path, _, _ = ensure_engine(onnx_path, environment.tensorrt_version, args.precision,
                                  directory, spec, args.engine, args.max_batch)
    LOGGER.info("engine ready: %s", path)
    print(path)
    return 0
