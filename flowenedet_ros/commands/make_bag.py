"""`flowenedet make-bag`: image folders (optionally labelled) -> rosbag2."""

from __future__ import annotations

import argparse
from pathlib import Path

from flowenedet_core.errors import DataError

from ..bags.make_bag import (
    BagLayout,
    expect_reason,
    folder_frames,
    labelled_frames,
    write_bag,
)
from ..bags.records import LABEL_KINDS
from ..bags.writer import COMPRESSION
from ..frame_reason import INPUT, REASONS
from ..image_conversion import COMPRESSED_CODECS, ENCODINGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-bag", help="turn image folders (with optional labels) into a rosbag2",
        description="Images become sensor_msgs/Image messages (or CompressedImage with "
                    "--compressed) at --rate on --topic; labels "
                    "(anomaly masks 0/1/255 or Cityscapes train ids) go on --label-topic as "
                    "mono8 with the same stamps.")
    parser.add_argument("output", type=Path, help="bag folder to create")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", action="append",
                        help="labelled folders, as for `flowenedet eval`: anomaly:DIR | "
                             "cityscapes:DIR:SPLIT (repeatable, concatenated in order)")
    source.add_argument("--images", type=Path, help="a folder of images (recursive, sorted)")
    parser.add_argument("--labels", type=Path, default=None,
                        help="with --images: label PNGs of the same relative path and stem")
    parser.add_argument("--label-kind", choices=LABEL_KINDS, default=None,
                        help="what --labels hold")
    defaults = BagLayout()
    parser.add_argument("--topic", default=None,
                        help=f"default {defaults.topic} ({defaults.topic}/compressed with "
                             "--compressed)")
    parser.add_argument("--label-topic", default=defaults.label_topic)
    parser.add_argument("--frame-id", default=defaults.frame_id)
    parser.add_argument("--rate", type=float, default=defaults.rate_hz, help="frames per second")
    parser.add_argument("--encoding", default=defaults.encoding,
                        help="sensor_msgs/Image encoding of the conversion table: "
                             f"{', '.join(ENCODINGS)} (depth encodings are refused)")
    parser.add_argument("--compressed", choices=COMPRESSED_CODECS, default="",
                        help="write sensor_msgs/CompressedImage (format as image_transport "
                             "writes it) instead of Image")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default=defaults.storage)
    parser.add_argument("--compression", choices=tuple(COMPRESSION), default="none",
                        help="zstd compression of the bag, per file or per message")
    parser.add_argument("--expect", choices=[r for r in REASONS if r != INPUT], default=None,
                        help="what every frame shows (object, scene, ...): recorded in the "
                             "bag, so `flowenedet replay` reports a reason confusion matrix; "
                             "with anomaly labels, frames without anomaly pixels are expected "
                             "without `object`")
    parser.add_argument("--start-time", type=float, default=None,
                        help="stamp of the first frame, seconds since the epoch (default: now)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.data:
        frames, count, kind = labelled_frames(args.data)
    else:
        if args.labels is not None and args.label_kind is None:
            raise DataError("--labels needs --label-kind (anomaly or semantic)")
        frames, count = folder_frames(args.images, args.labels)
        kind = args.label_kind if args.labels is not None else None
    topic = args.topic or BagLayout.topic + ("/compressed" if args.compressed else "")
    layout = BagLayout(topic, args.label_topic, args.frame_id, args.rate, args.encoding,
                       args.storage, args.compressed, args.compression)
    start = None if args.start_time is None else round(args.start_time * 1e9)
    if args.expect:
        frames = expect_reason(frames, args.expect, kind)
    write_bag(frames, count, args.output, layout, kind, start)
    print(f"wrote {args.output}")
    return 0
