"""`flowenedet export`: backbone + FED (or a baseline) as one ONNX graph."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..runtime.artifacts import export_spec
from .common import LOGGER
from .model_args import add_model_arguments, model_spec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export backbone + FED as one ONNX graph",
        description="One ONNX graph (opset 18) per model and input size: input `image` uint8 "
                    "(N, H, W, 3) RGB; outputs `labels` uint8 (N, H, W) train ids and "
                    "`uncertainty` float32 (N, H, W) in [0, 1]. Only N is dynamic. "
                    "Preprocessing, backbone, FED, argmax and upsampling are inside.")
    add_model_arguments(parser)
    parser.add_argument("--fp16", action="store_true",
                        help="half-precision backbone (FED stays float32), for TensorRT 11 / "
                             "GPU runtimes")
    parser.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    if args.fp16:
        spec = replace(spec, precision="fp16")
    path = export_spec(spec, args.out)
    LOGGER.info("wrote %s (%s, %s)", path, spec.head_name, spec.precision)
    return 0
