"""`flowenedet make-drive`: a synthetic drive (stretches of clear road, unknown objects, weather)
as a bag with anomaly masks, e.g. for calibrating thresholds or trying the node."""

from __future__ import annotations

import argparse
from pathlib import Path

from flowenedet_core.data.synthetic import SHIFTS
from flowenedet_core.data.synthetic_drive import DEMO_DRIVE, Stretch


def parse_stretch(text: str) -> Stretch:
    """'clear:40' | 'anomaly:20[:COUNT]' | 'fog:30:SEVERITY' (also night, noise, blur)."""
    kind, _, rest = text.partition(":")
    frames, _, value = rest.partition(":")
    if not frames.isdigit() or kind not in ("clear", "anomaly", *SHIFTS):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected clear:FRAMES, anomaly:FRAMES[:COUNT] or "
            f"{'|'.join(SHIFTS)}:FRAMES:SEVERITY")
    try:
        if kind == "anomaly":
            return Stretch(text, int(frames), anomalies=int(value or 1))
        if kind in SHIFTS:
            return Stretch(text, int(frames), shift=kind, severity=float(value or 0.5))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a number") from None
    return Stretch(text, int(frames))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "make-drive", help="a synthetic drive as a bag (anomaly masks as labels)",
        description="Stretches in order, each a new street driven at 10 m/s, 10 frames/s, "
                    "256x512. Without --stretch: the demo drive.")
    parser.add_argument("output", type=Path, help="bag folder to create")
    parser.add_argument("--stretch", action="append", type=parse_stretch, default=None,
                        help="clear:FRAMES | anomaly:FRAMES[:COUNT] | fog:FRAMES:SEVERITY "
                             "(also night, noise, blur; severity 0-1), repeatable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import write_drive

    stretches = tuple(args.stretch) if args.stretch else DEMO_DRIVE
    starts = write_drive(args.output, args.seed, stretches, args.storage)
    for stretch, start in zip(stretches, starts, strict=True):
        print(f"frames {start}-{start + stretch.frames - 1}: {stretch.name}")
    print(f"wrote {args.output}")
    return 0
