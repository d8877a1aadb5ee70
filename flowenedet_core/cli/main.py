"""The `flowenedet` command: one subcommand per job, one clear line and exit code 2 on bad input."""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import FlowenedetError
from . import bench, build_engine, demo, estimate_stats, evaluate, export, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowenedet",
        description="FlowEneDet: where a frozen segmentation model cannot be trusted.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (estimate_stats, train, evaluate, export, build_engine, bench, demo):
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except FlowenedetError as error:
        print(f"flowenedet: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
