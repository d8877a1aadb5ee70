"""`flowenedet demo`: the embedded model on a synthetic drive through the real node (see
flowenedet_ros/demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="the whole product on a synthetic drive: bag -> live node -> report",
        description="Renders a synthetic drive (clear, anomaly, light-fog, heavy-fog stretches) "
                    "into a bag, plays it into the real node running the embedded model on "
                    "onnxruntime, records its outputs and writes the replay report.")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--variant", choices=("fed-u", "fed-c"), default="fed-u",
                        help="embedded detector")
    parser.add_argument("--seed", type=int, default=0, help="the drive's seed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    lines, flag_ok = run_demo(args.out, args.variant, args.seed)
    print("\n".join(lines))
    if not flag_ok:
        print("flowenedet demo: the flag or the reason did not behave as expected on every "
              "stretch (see above)")
    return 0 if flag_ok else 1
