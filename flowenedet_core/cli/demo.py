"""`flowenedet demo`: evaluate ERFNet's uncertainty scores on the data at hand.

Uses the real ERFNet weights and the anomaly / Cityscapes folders under `--data-root` (the layout
of ../shared/data), estimating SML statistics first, and adds every FED checkpoint found under
`--runs` (as written by the README's training commands).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DataError
from . import estimate_stats, evaluate

ANOMALY_SETS = ("RoadAnomaly21", "FS_Static")
DETECTORS = ("fed-u", "fed-c")  # checkpoint folders under --runs, as the README trains them


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="evaluate ERFNet + FED on the data at hand")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                        help="folder with erfnet/, anomaly/ and cityscapes/")
    parser.add_argument("--runs", type=Path, default=Path("runs"),
                        help="where FED checkpoints (fed-u/, fed-c/) and outputs go")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root, runs = args.data_root, args.runs
    weights = root / "erfnet" / "erfnet_cityscapes.pth"
    if not weights.is_file():
        raise DataError(f"no ERFNet weights at {weights}: pass --data-root to a folder with "
                        "erfnet/erfnet_cityscapes.pth, anomaly/ and cityscapes/")
    common = ["--backbone", "erfnet", "--weights", str(weights)]
    stats = runs / "erfnet_stats.json"
    if not stats.is_file():
        estimate_stats.run(_parse(["estimate-stats", *common, "--data",
                                   f"cityscapes:{root / 'cityscapes'}:train",
                                   "--out", str(stats)]))
    data = [f"{name}=anomaly:{root / 'anomaly' / name}" for name in ANOMALY_SETS
            if (root / "anomaly" / name).is_dir()]
    data.append(f"cityscapes-val=cityscapes:{root / 'cityscapes'}:val")
    feds = [f"{name}={runs / name}" for name in DETECTORS if (runs / name / "fed.json").is_file()]
    scores = "msp,maxlogit,energy,entropy,sml" + (",fed" if feds else "")
    argv = ["eval", *common, "--stats", str(stats), "--scores", scores,
            "--json", str(runs / "demo_eval.json"), "--plots", str(runs / "plots")]
    for item in data:
        argv += ["--data", item]
    for item in feds:
        argv += ["--fed", item]
    return evaluate.run(_parse(argv))


def _parse(argv: list[str]) -> argparse.Namespace:
    from .main import build_parser

    return build_parser().parse_args(argv)
