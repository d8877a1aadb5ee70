"""`flowenedet_node --help`, and the command-line checks made before ROS starts (rcl itself
answers a missing parameter file with a traceback)."""

from __future__ import annotations

import itertools
from pathlib import Path

from .parameters import PARAMETERS

TOPICS = (
    ("in", "~/image", "sensor_msgs/Image (image_transport raw; best-effort QoS by default)"),
    ("in", "~/image/compressed", "sensor_msgs/CompressedImage (image_transport compressed)"),
    ("out", "~/segmentation", "mono8 train ids"),
    ("out", "~/segmentation/color", "rgb8 palette"),
    ("out", "~/uncertainty", "32FC1 in [0, 1]"),
    ("out", "~/ood_mask", "mono8, 255 where uncertainty > pixel_threshold"),
    ("out", "~/ood_instances", "mono16 anomaly-component ids"),
    ("out", "~/low_confidence", "std_msgs/Bool scene flag"),
    ("out", "~/low_confidence/reason", "std_msgs/String: object, scene, object+scene, input, "
                                       "none"),
    ("out", "/diagnostics", "diagnostic_msgs/DiagnosticArray: latency, served / dropped / "
                            "lost / failed frames"),
)
HELP_FLAGS = ("-h", "--help")


def wants_help(args: list[str]) -> bool:
    """-h / --help before any --ros-args."""
    own = args[:args.index("--ros-args")] if "--ros-args" in args else args
    return any(flag in own for flag in HELP_FLAGS)


def usage() -> str:
    width = max(len(spec.name) for spec in PARAMETERS)
    lines = ["usage: flowenedet_node [-h] [--ros-args [--params-file FILE] [-p NAME:=VALUE ...] "
             "[-r FROM:=TO ...]]",
             "",
             "Per-pixel uncertainty, an OOD mask and a scene flag for a camera stream.",
             "",
             "example:",
             "  flowenedet_node --ros-args --params-file config/flowenedet.yaml "
             "-r '~/image:=/camera/image_raw'",
             "",
             "topics:"]
    lines += [f"  {direction:3} {topic:24} {text}" for direction, topic, text in TOPICS]
    lines += ["", "parameters (default; README's parameter table has types, ranges and which "
                  "ones change live):"]
    lines += [f"  {spec.name:{width}}  {spec.default!r:14} {spec.description}"
              for spec in PARAMETERS]
    return "\n".join(lines)


def missing_parameter_files(args: list[str]) -> list[str]:
    """The `--params-file FILE` arguments whose FILE does not exist."""
    return [path for flag, path in itertools.pairwise(args)
            if flag == "--params-file" and not Path(path).is_file()]
