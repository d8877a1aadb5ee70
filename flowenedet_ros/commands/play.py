"""`flowenedet play BAG --record OUT`: live mode against the running node."""

from __future__ import annotations

import argparse
from pathlib import Path

from flowenedet_core.errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play", help="play a bag into the running node and record its outputs (live mode)",
        description="Publishes the camera topic of BAG to NODE/image (a CompressedImage topic "
                    "to NODE/image/compressed: start the node with image_transport:=compressed) "
                    "at its recorded rate "
                    "(times --rate) and records NODE's outputs into --record, as `ros2 bag "
                    "play` + `ros2 bag record` would. The node must be running in the same "
                    "ROS domain. Then `flowenedet replay`'s tools (calibrate) read the recording.")
    parser.add_argument("bag", type=Path)
    parser.add_argument("--record", type=Path, required=True, help="bag folder to create")
    parser.add_argument("--node", default="/flowenedet_node", help="the running node")
    parser.add_argument("--topic", default=None, help="camera topic in BAG")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the node to appear")
    parser.add_argument("--linger", type=float, default=10.0,
                        help="after the last frame, seconds without output before stopping")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import rclpy
    except ImportError:
        raise DataError("live mode needs rclpy: source a ROS 2 install or "
                        "`pip install .[rospip]`") from None
    from ..bags.live import LiveOptions, play_and_record

    options = LiveOptions(args.node, args.topic, args.rate, args.wait, args.linger, args.storage)
    rclpy.init(args=["--ros-args"])
    try:
        result = play_and_record(args.bag, args.record, options)
    finally:
        rclpy.try_shutdown()
    print(f"played {result.published} frames: {result.served} served, {result.dropped} "
          f"dropped (the node serves the latest frame), {result.failed} failed, {result.lost} "
          "lost (never arrived, from gaps in their stamps); recorded "
          + ", ".join(f"{name} {count}" for name, count in result.recorded.items()))
    for problem in result.problems:
        print(f"problem: {problem}")
    print(f"recording: {args.record}")
    return 1 if result.problems else 0
