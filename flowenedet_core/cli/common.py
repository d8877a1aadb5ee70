"""Arguments and loaders shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import embedded
from ..backbones.base import Backbone
from ..backbones.registry import BACKBONES, backbone_builder, create_backbone
from ..checkpoint import BackboneInfo
from ..data.transforms import parse_size
from ..errors import FlowenedetError
from ..tta import DEFAULT_TTA_SCALES, SINGLE_SCALE, parse_tta_scales

LOGGER = logging.getLogger("flowenedet")


BACKBONE_HELP = (f"frozen segmentation model: {', '.join(sorted(BACKBONES))}, or "
                 "module:callable building your own (on PYTHONPATH)")


def model_path(text: str) -> Path:
    """argparse type of weights, checkpoints and parameter files: a path, or `embedded:NAME`."""
    try:
        return embedded.resolve(text)
    except FlowenedetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def backbone_name(text: str) -> str:
    """argparse type of --backbone: a registered name or an importable `module:callable`."""
    try:
        backbone_builder(text)
    except FlowenedetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_backbone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", required=True, type=backbone_name, help=BACKBONE_HELP)
    parser.add_argument("--weights", required=True, type=model_path,
                        help="its weights (.pth state dict, .safetensors, a HF folder, or "
                             "embedded:erfnet-tiny)")
    parser.add_argument("--size", type=parse_size, default=None,
                        help="input size HxW (default: the backbone's, ERFNet 512x1024)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")


def add_tta_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """`--tta [SCALES]`: absent, scale 1 only; bare, the reference's 1,0.5,0.25."""
    parser.add_argument("--tta", nargs="?", type=parse_tta_scales, const=DEFAULT_TTA_SCALES,
                        default=SINGLE_SCALE, metavar="SCALES",
                        help=f"multi-scale test-time augmentation: {what} averaged over these "
                             "scales of the input size (default 1,0.5,0.25; labels from "
                             "scale 1)")


@dataclass
class LoadedBackbone:
    model: Backbone
    info: BackboneInfo
    input_size: tuple[int, int]


def load_backbone(args: argparse.Namespace) -> LoadedBackbone:
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"input_size": args.size} if args.size else {}
    model = create_backbone(args.backbone, args.weights, **options).to(args.device)
    info = BackboneInfo.of(model, args.backbone, args.weights)
    return LoadedBackbone(model, info, model.preprocessing.input_size)
