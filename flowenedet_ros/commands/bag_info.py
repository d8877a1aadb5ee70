"""`flowenedet bag-info BAG`: what `ros2 bag info` prints (no `ros2` CLI with the pip install)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..bags.info import bag_info, format_info


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bag-info", help="what a bag holds, as `ros2 bag info` prints it",
        description="Files (split parts missing named), storage, compression (declared or found "
                    "in the data), duration, topics with types and message counts, and each "
                    "image topic's encoding and size (depth marked) of BAG: a rosbag2 folder "
                    "(with or without metadata.yaml), one .mcap / .db3 file or a ROS 1 .bag. "
                    "Reads only. Exit status 1 when parts of the bag could not be read.")
    parser.add_argument("bag", type=Path)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = bag_info(args.bag)
    print(format_info(info))
    return 1 if info.problems else 0
