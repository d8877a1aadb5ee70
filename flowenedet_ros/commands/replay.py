"""`flowenedet replay BAG`: the node's pipeline over a bag -> output bag, summary and report."""

from __future__ import annotations

import argparse
from pathlib import Path

from flowenedet_core.errors import DataError

from ..bags.reason_summary import confusion_table
from ..bags.records import LABEL_KINDS, OUTPUT_TYPES
from ..bags.replay import ReplayOptions, replay
from ..bags.report import write_report
from ..pipeline_factory import create_pipeline
from .model_parameters import add_parameter_arguments, parameter_values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="run the node's pipeline over a rosbag2 offline, with a report",
        description="Reads BAG (rosbag2 sqlite3 or mcap, zstd-compressed or not, or a ROS 1 "
                    ".bag; a damaged rosbag2 as far as it reads; the camera topic an Image or "
                    "CompressedImage), writes "
                    "OUT/bag (every output topic, input stamps kept), OUT/summary.json and "
                    "OUT/report.html. The model and flag settings are the node's parameters. "
                    "Exit status 1 when frames or parts of the bag could not be read.")
    parser.add_argument("bag", type=Path)
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: BAG_replay beside the bag)")
    add_parameter_arguments(parser)
    parser.add_argument("--topic", default=None,
                        help="camera topic (default: the only Image / CompressedImage one)")
    parser.add_argument("--label-topic", default=None,
                        help="labels recorded beside the frames (default: as make-bag wrote)")
    parser.add_argument("--label-kind", choices=LABEL_KINDS, default=None)
    parser.add_argument("--outputs", default=",".join(OUTPUT_TYPES),
                        help="output topics to write (default: all)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--node", default="/flowenedet_node",
                        help="output topics are this node's (default /flowenedet_node)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.bag.exists():
        raise DataError(f"no bag at {args.bag}")
    values = parameter_values(args)
    out = args.out or args.bag.with_name(args.bag.name + "_replay")
    options = ReplayOptions(args.topic, args.label_topic, args.label_kind, args.node,
                            args.storage, tuple(filter(None, args.outputs.split(","))))
    pipeline = create_pipeline(values)
    result = replay(args.bag, pipeline, values, out / "bag", options)
    page = write_report(result, out)
    summary = result.summary
    frames, latency = summary["frames"], summary["latency_ms"]
    print(f"{frames['served']} of {frames['read']} frames served ({frames['failed']} failed, "
          f"{frames['lost']} missing from the recording), mean latency "
          f"{latency.get('mean', float('nan')):.1f} ms, flag raised on "
          f"{summary['flag']['raised_frames']} frames")
    if summary["metrics"] and "ap" in summary["metrics"]:
        metrics = summary["metrics"]
        print(f"AP {metrics['ap']:.2f} / AUROC {metrics['auroc']:.2f} / FPR95 "
              f"{metrics['fpr95']:.2f} % ({metrics['label_kind']}, {metrics['frames']} frames)")
    reason = summary["reason"]
    print("reason: " + ", ".join(f"{kind} {count}" for kind, count in reason["counts"].items()))
    if "confusion" in reason:
        print(f"reason as expected on {100 * reason['accuracy']:.1f} % of the frames:")
        print(confusion_table(reason["confusion"]))
    for problem in summary["problems"]:
        print(f"problem: {problem}")
    print(f"report: {page}")
    return 1 if summary["problems"] else 0
