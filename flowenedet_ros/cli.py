"""The `flowenedet` command: flowenedet_core's subcommands plus the bag ones (make-bag, replay,
play, calibrate, bag-info), which need rosbags (and rclpy for play)."""

from __future__ import annotations

import sys

from flowenedet_core.cli.main import COMMANDS
from flowenedet_core.cli.main import main as core_main

from .commands import bag_info, calibrate, demo, make_bag, make_drive, play, replay

ALL_COMMANDS = (*COMMANDS, make_bag, make_drive, replay, play, calibrate, bag_info, demo)


def main(argv: list[str] | None = None) -> int:
    return core_main(argv, ALL_COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
