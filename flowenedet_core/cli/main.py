"""The `flowenedet` command: one subcommand per job, one clear line and exit code 2 on bad input."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import FlowenedetError
from . import (
    bench,
    build_engine,
    estimate_stats,
    evaluate,
    export,
    fit_meta,
    synth,
    train,
    train_backbone,
)

COMMANDS = (synth, train_backbone, estimate_stats, train, evaluate, fit_meta, export, build_engine,
            bench)


def build_parser(commands=COMMANDS) -> argparse.ArgumentParser:
    """The parser of `commands`: modules with `register(subparsers)` (flowenedet_ros adds its
    bag commands to these)."""
    parser = argparse.ArgumentParser(
        prog="flowenedet",
        description="FlowEneDet: where a frozen segmentation model cannot be trusted.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in commands:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None, commands=COMMANDS) -> int:
    args = build_parser(commands).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except FlowenedetError as error:
        print(f"flowenedet: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
