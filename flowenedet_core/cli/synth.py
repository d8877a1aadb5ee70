"""`flowenedet synth`: procedural street scenes as a Cityscapes tree and an anomaly folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.cutouts import CLASS_PARTS
from ..data.paste import write_cutout_anomalies
from ..data.spec import parse_data_spec
from ..data.synthetic_sets import PasteGeometry, write_pasted_anomalies, write_synthetic_data
from ..data.transforms import parse_size
from ..errors import DataError
from .train import parse_range


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
    parser.add_argument("--paste-distance", type=parse_range, default=None, metavar="NEAR,FAR",
                        help="size and place each pasted object as seen by a forward camera at a "
                             "distance drawn log-uniformly from NEAR-FAR m (e.g. 5,60) instead "
                             "of at its rendered size on a random road pixel")
    parser.add_argument("--paste-width", type=parse_range, default=(0.3, 2.0), metavar="MIN,MAX",
                        help="with --paste-distance: the objects' width in m")
    parser.add_argument("--paste-fov", type=float, default=50.0, metavar="DEG",
                        help="with --paste-distance: the camera's horizontal field of view")
    parser.add_argument("--cutouts", type=Path, default=None, metavar="DIR",
                        help="with --paste-into: paste 1-3 real cut-outs of an outlier proxy "
                             "folder (instances.csv + instances/) per frame, blended as in "
                             "training, instead of synthetic objects; writes ATTRIBUTION.csv")
    parser.add_argument("--cutout-classes", choices=CLASS_PARTS, default="b",
                        help="with --cutouts: the class part pasted (select on the part the "
                             "detector did not train on)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.paste_into:
        dataset = parse_data_spec(args.paste_into)
        if dataset.kind != "cityscapes":
            raise DataError(f"--paste-into {args.paste_into!r}: needs semantic labels "
                            "(a cityscapes spec) to find the road")
        geometry = None if args.paste_distance is None else PasteGeometry(
            args.paste_width, args.paste_distance, args.paste_fov)
        if args.cutouts is not None:
            folder = write_cutout_anomalies(dataset, args.out / "anomaly", str(args.cutouts),
                                            args.cutout_classes, args.seed, geometry)
        else:
            folder = write_pasted_anomalies(dataset, args.out / "anomaly", args.seed, geometry)
        print(f"wrote {folder}")
        return 0
    folders = write_synthetic_data(args.out, args.train, args.val, args.anomaly, args.seed,
                                   args.size)
    print(f"wrote {folders['cityscapes']} and {folders['anomaly']}")
    return 0
