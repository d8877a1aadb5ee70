"""`flowenedet train-backbone`: train a small segmentation model from scratch (the embedded demo
model is made this way; FED never changes a backbone it is put on)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..backbones.registry import create_backbone
from ..data.spec import parse_data_spec
from ..data.transforms import parse_size
from ..training.segmentation import (
    SegmentationOptions,
    save_backbone,
    segmentation_miou,
    train_segmentation,
)
from .common import BACKBONE_HELP, LOGGER, backbone_name


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = SegmentationOptions()
    parser = subparsers.add_parser(
        "train-backbone", help="train a segmentation backbone from scratch",
        description="Cross-entropy on a Cityscapes-format folder; writes OUT.safetensors and "
                    "OUT.json; reports mIoU on --val.")
    parser.add_argument("--backbone", default="erfnet-tiny", type=backbone_name,
                        help=BACKBONE_HELP)
    parser.add_argument("--data", required=True, help="cityscapes:DIR:SPLIT training data")
    parser.add_argument("--val", default=None, help="cityscapes:DIR:SPLIT for the mIoU")
    parser.add_argument("--out", type=Path, required=True, help="weights file (.safetensors)")
    parser.add_argument("--iters", type=int, default=defaults.iters)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--crop", type=parse_size, default=defaults.crop)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = SegmentationOptions(args.iters, args.batch_size, args.crop, args.lr,
                                  seed=args.seed)
    model = create_backbone(args.backbone, None)
    train_segmentation(model, parse_data_spec(args.data), options)
    meta = {"trained_on": args.data, "iters": args.iters, "batch_size": args.batch_size,
            "crop": list(args.crop), "lr": args.lr, "seed": args.seed}
    if args.val:
        meta["val"] = args.val
        meta["val_miou"] = segmentation_miou(model, parse_data_spec(args.val))
        LOGGER.info("mIoU on %s: %.2f", args.val, meta["val_miou"])
    path = save_backbone(model, args.out.with_suffix(".safetensors"), args.backbone, meta)
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
