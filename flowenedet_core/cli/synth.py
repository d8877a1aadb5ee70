"""`flowenedet synth`: procedural street scenes as a Cityscapes tree and an anomaly folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.spec import parse_data_spec
from ..data.synthetic_sets import write_pasted_anomalies, write_synthetic_data
from ..data.transforms import parse_size
from ..errors import DataError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth", help="write synthetic street scenes (Cityscapes layout + anomaly folder)",
        description="Deterministic from --seed: OUT/cityscapes/{leftImg8bit,gtFine}/{train,val} "
                    "(train ids; mild fog, noise, blur and dusk mixed in) and "
                    "OUT/anomaly/{images,labels_masks} (unknown objects on the road). With "
                    "--paste-into: only OUT/anomaly, made of real labelled frames with "
                    "synthetic objects pasted onto their road.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=60)
    parser.add_argument("--anomaly", type=int, default=60)
    parser.add_argument("--size", type=parse_size, default=(256, 512))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paste-into", default=None, metavar="SPEC",
                        help="cityscapes:DIR:SPLIT[@SLICE] frames to paste objects into")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.paste_into:
        dataset = parse_data_spec(args.paste_into)
        if dataset.kind != "cityscapes":
            raise DataError(f"--paste-into {args.paste_into!r}: needs semantic labels "
                            "(a cityscapes spec) to find the road")
        folder = write_pasted_anomalies(dataset, args.out / "anomaly", args.seed)
        print(f"wrote {folder}")
        return 0
    folders = write_synthetic_data(args.out, args.train, args.val, args.anomaly, args.seed,
                                   args.size)
    print(f"wrote {folders['cityscapes']} and {folders['anomaly']}")
    return 0
