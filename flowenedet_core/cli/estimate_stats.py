"""`flowenedet estimate-stats`: SML statistics from labelled (Cityscapes-format) data."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tqdm import tqdm

from ..backbones.base import Backbone, upsample_to
from ..data.datasets import LabelledFolder
from ..data.spec import parse_data_spec
from ..data.transforms import resize_label
from ..fed.statistics import SMLStatistics, SMLStatisticsAccumulator
from .common import LOGGER, add_backbone_arguments, load_backbone


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "estimate-stats", help="estimate SML statistics (per-class max-logit mean/std)",
        description="Per-class mean/std of the max logit over pixels predicted and labelled as "
                    "that class, at the backbone's input size. Used by SML and FED.")
    add_backbone_arguments(parser)
    parser.add_argument("--data", required=True, help="cityscapes:DIR:SPLIT (training data)")
    parser.add_argument("--out", required=True, type=Path, help="statistics JSON to write")
    parser.set_defaults(run=run)


@torch.no_grad()
def estimate_statistics(backbone: Backbone, dataset: LabelledFolder,
                        input_size: tuple[int, int], progress: bool = True) -> SMLStatistics:
    accumulator = SMLStatisticsAccumulator(backbone.class_names)
    for sample in tqdm(dataset, desc="statistics", disable=not progress, unit="img"):
        output = backbone(backbone.to_input(sample.image, input_size))
        logits = upsample_to(output.logits[:, :backbone.num_classes], input_size)
        label = torch.from_numpy(resize_label(sample.label, input_size))[None]
        accumulator.update(logits, label)
    return accumulator.result()


def run(args: argparse.Namespace) -> int:
    loaded = load_backbone(args)
    dataset = parse_data_spec(args.data)
    statistics = estimate_statistics(loaded.model, dataset, loaded.input_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    statistics.save(args.out)
    LOGGER.info("wrote SML statistics of %d images to %s", len(dataset), args.out)
    return 0
