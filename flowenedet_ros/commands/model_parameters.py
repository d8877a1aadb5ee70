"""`--params FILE` and `-p NAME:=VALUE`: the node's own parameters, for the bag commands."""

from __future__ import annotations

import argparse

from flowenedet_core.cli.common import model_path

from ..parameter_file import load_parameter_file, parse_override


def add_parameter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=model_path, default=None,
                        help="a node parameter file (config/flowenedet.yaml format), or "
                             "embedded:thresholds (the embedded model's calibrated settings)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override one node parameter, as `--ros-args -p` (repeatable)")


def parameter_values(args: argparse.Namespace) -> dict:
    overrides = dict(parse_override(text) for text in args.param)
    return load_parameter_file(args.params, overrides)
