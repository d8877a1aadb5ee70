"""`flowenedet train`: train FED-U or FED-C on a frozen backbone (see training/)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..data.spec import parse_data_spec
from ..data.transforms import parse_size
from ..errors import ConfigError
from ..fed.detector import FEDConfig
from ..fed.statistics import SMLStatistics
from ..training.cache import CacheSpec, build_cache
from ..training.trainer import Trainer, TrainOptions, distributed_context
from .common import LOGGER, add_backbone_arguments, load_backbone
from .estimate_stats import estimate_statistics

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flowenedet"


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales {text!r} are not numbers like 0.5,1,1.5"
                                         ) from None
    if not scales or min(scales) <= 0:
        raise argparse.ArgumentTypeError("scales must be positive")
    return scales


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults, fed = TrainOptions(), FEDConfig()
    parser = subparsers.add_parser(
        "train", help="train a FED detector on a frozen backbone",
        description="Train FED-U or FED-C on in-distribution labelled data: frozen backbone "
                    "(outputs cached once), random scale/crop/flip, AdamW with warm-up and step "
                    "decay. Resumes from OUT/training_state.pt when present. Launch with "
                    "`torchrun --nproc-per-node N -m flowenedet_core.cli.main train ...` for DDP.")
    add_backbone_arguments(parser)
    parser.add_argument("--data", required=True, help="cityscapes:DIR:SPLIT training data")
    parser.add_argument("--variant", required=True, choices=["fed-u", "fed-c"])
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory")
    parser.add_argument("--stats", type=Path, default=None,
                        help="SML statistics JSON (default: estimated from --data first)")
    parser.add_argument("--iters", type=int, default=defaults.iters)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--crop", type=parse_size, default=defaults.crop_size,
                        help="random crop HxW in image pixels (default 512x1024)")
    parser.add_argument("--scales", type=parse_scales, default=(0.5, 0.75, 1.0, 1.25, 1.5),
                        help="resize ratios of the input size sampled in training")
    parser.add_argument("--blocks", type=int, default=fed.num_blocks, help="coupling blocks L")
    parser.add_argument("--kernel-size", type=int, default=fed.kernel_size, help="subnet K")
    parser.add_argument("--separable", action="store_true",
                        help="depthwise KxK convolutions in the coupling subnets (cheaper FED-C)")
    parser.add_argument("--groups", type=int, default=None,
                        help=f"condition channel groups P (FED-C; default {fed.condition_groups}, "
                             "or the feature channels when fewer)")
    parser.add_argument("--covariance", choices=["full", "diagonal"], default="full")
    parser.add_argument("--flow-stride", type=int, default=fed.flow_stride,
                        help="the flow runs at input size / stride (default 4)")
    parser.add_argument("--raw-logits", action="store_true",
                        help="feed raw logits to the energy (no SML standardisation)")
    parser.add_argument("--void", choices=["positive", "ignore"], default="positive",
                        help="void pixels as misclassified (m* = 1, METHOD.md) or ignored")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE / "train-cache",
                        help="where cached backbone outputs live (shared between runs)")
    parser.add_argument("--restart", action="store_true",
                        help="ignore OUT/training_state.pt and start from scratch")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch.distributed as dist

    loaded = load_backbone(args)
    dataset = parse_data_spec(args.data)
    channels = loaded.info.feature_channels
    groups = args.groups if args.groups is not None else min(FEDConfig.condition_groups, channels)
    config = FEDConfig(variant=args.variant, num_blocks=args.blocks, kernel_size=args.kernel_size,
                       separable=args.separable, condition_groups=groups,
                       full_covariance=args.covariance == "full", flow_stride=args.flow_stride,
                       standardize=not args.raw_logits)
    if args.stats is not None:
        statistics = SMLStatistics.load(args.stats)
    else:
        statistics = estimate_statistics(loaded.model, dataset, loaded.input_size)
    if statistics.class_names != loaded.model.class_names:
        raise ConfigError(f"{args.stats} was estimated for other classes than {args.backbone}'s")
    divides = channels % groups == 0
    if config.variant == "fed-c" and not divides:
        raise ConfigError(f"--groups {groups} does not divide the {channels} feature channels "
                          f"of {args.backbone}")
    # Conditions are cached whenever they can be, so FED-U and FED-C runs share one cache.
    spec = CacheSpec(loaded.info.name, loaded.info.weights_sha256, channels, loaded.input_size,
                     args.scales, config.flow_stride, groups if divides else 0,
                     config.standardize)
    rank, world_size = distributed_context()
    if world_size > 1 and rank:  # rank 0 fills the cache first, the others then read it
        dist.barrier()
    entries = build_cache(loaded.model, dataset, statistics, spec, args.cache_dir,
                          progress=rank == 0)
    if world_size > 1 and not rank:
        dist.barrier()
    options = TrainOptions(iters=args.iters, lr=args.lr, batch_size=args.batch_size,
                           crop_size=args.crop, seed=args.seed,
                           void_positive=args.void == "positive")
    trainer = Trainer(config, statistics, loaded.info, entries, options, args.out, args.device)
    if not args.restart:
        trainer.resume()
    trainer.run()
    if world_size > 1:  # every rank waits for rank 0's checkpoint, then all leave together:
        dist.barrier()  # a rank exiting with its process group alive can abort (SIGABRT)
        dist.destroy_process_group()
    LOGGER.info("FED checkpoint written to %s", args.out)
    return 0
