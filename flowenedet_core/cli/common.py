"""Arguments and loaders shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..backbones.base import Backbone
from ..backbones.registry import BACKBONES, create_backbone
from ..backbones.weights import file_sha256
from ..checkpoint import BackboneInfo
from ..data.transforms import parse_size

LOGGER = logging.getLogger("flowenedet")


def add_backbone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", required=True, choices=sorted(BACKBONES),
                        help="frozen segmentation model")
    parser.add_argument("--weights", required=True, type=Path,
                        help="its weights (.pth state dict, .safetensors, or a HF folder)")
    parser.add_argument("--size", type=parse_size, default=None,
                        help="input size HxW (default: the backbone's, ERFNet 512x1024)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's choice)")


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
    sha = file_sha256(args.weights) if Path(args.weights).is_file() else None
    with torch.no_grad():
        probe = model(torch.zeros(1, 3, 64, 64, device=args.device))
    info = BackboneInfo(args.backbone, sha, model.preprocessing.input_size, model.class_names,
                        int(probe.features.shape[1]))
    return LoadedBackbone(model, info, model.preprocessing.input_size)
