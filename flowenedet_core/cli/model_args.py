"""Arguments that name one deployable model (a `ModelSpec`): export, build-engine and bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.transforms import parse_size
from ..engines.cache import CACHE_VARIABLE, DEFAULT_CACHE
from ..errors import ConfigError
from ..export.graph import UNIT_INTERVAL_MAPS
from ..export.model_spec import ModelSpec
from ..fed.detector import FEDConfig
from .common import BACKBONE_HELP, add_tta_argument, backbone_name, model_path


def parse_fed_config(text: str) -> FEDConfig:
    """'variant=fed-c,num_blocks=4,separable=1' -> FEDConfig (fields of FEDConfig)."""
    fields = FEDConfig.__dataclass_fields__
    values = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name not in fields:
            raise argparse.ArgumentTypeError(f"{name!r} is not a FED setting; choose from "
                                             f"{', '.join(fields)}")
        kind = type(getattr(FEDConfig(), name))
        values[name] = value in ("1", "true", "yes") if kind is bool else kind(value)
    try:
        return FEDConfig(**values)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_model_arguments(parser: argparse.ArgumentParser, timing_only: bool = False) -> None:
    parser.add_argument("--backbone", required=True, type=backbone_name, help=BACKBONE_HELP)
    parser.add_argument("--weights", required=not timing_only, type=model_path, default=None,
                        help="backbone weights, or embedded:erfnet-tiny"
                             + (" (omit: random weights, timing only)" if timing_only else ""))
    parser.add_argument("--size", type=parse_size, default=None,
                        help="input size HxW (default: the backbone's)")
    parser.add_argument("--fed", type=model_path, default=None,
                        help="FED checkpoint directory, or embedded:fed-u / embedded:fed-c")
    parser.add_argument("--score", default="msp", choices=sorted(UNIT_INTERVAL_MAPS),
                        help="baseline uncertainty when there is no --fed (default msp)")
    parser.add_argument("--stats", type=Path, default=None, help="SML statistics (score sml)")
    add_tta_argument(parser, "the graph's uncertainty")
    if timing_only:
        parser.add_argument("--fed-config", type=parse_fed_config, default=None,
                            help="an untrained FED of this config, timing only, e.g. "
                                 "variant=fed-c,num_blocks=4,separable=1,condition_groups=32")


def add_engines_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", type=Path, default=None,
                        help="cache of exported ONNX graphs and TensorRT engines (default: "
                             f"${CACHE_VARIABLE}, else {DEFAULT_CACHE})")


def model_spec(args: argparse.Namespace, precision: str = "fp32") -> ModelSpec:
    untrained = getattr(args, "fed_config", None)
    if args.fed is not None and untrained is not None:
        raise ConfigError("give --fed or --fed-config, not both")
    return ModelSpec(args.backbone, args.weights, args.size, args.fed, args.score, args.stats,
                     precision, untrained, tta_scales=args.tta)
