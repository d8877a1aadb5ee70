"""`flowenedet train`: train FED-U or FED-C on a frozen backbone (see training/)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from tqdm import tqdm

from ..data.cutouts import CLASS_PARTS
from ..data.datasets import LabelledFolder
from ..data.paste import PasteConfig
from ..data.spec import parse_data_spec
from ..data.transforms import parse_size
from ..errors import ConfigError
from ..fed.detector import FEDConfig
from ..fed.statistics import SMLStatistics, ema_statistics
from ..training.cache import CacheSpec, build_cache, describe_positives, outcome_shares
from ..training.sampler import SamplerConfig
from ..training.sources import CachedViews, OnlineViews
from ..training.trainer import Trainer, TrainOptions, distributed_context
from .common import LOGGER, LoadedBackbone, add_backbone_arguments, load_backbone
from .estimate_stats import estimate_statistics

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "flowenedet"


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers like 0.5,1,1.5"
                                         ) from None
    if not scales or min(scales) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: values must be positive")
    return scales


def parse_range(text: str) -> tuple[float, float]:
    values = parse_scales(text)
    if len(values) != 2 or values[0] > values[1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range LOW,HIGH like 0.5,2.0")
    return values


def parse_names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
    parser.add_argument("--init-crops", type=int, default=defaults.init_crops,
                        help="training crops whose pooled statistics initialise the flow's "
                             "ActNorms (default %(default)s; 1: the first crop alone)")
    parser.add_argument("--crop", type=parse_size, default=defaults.crop_size,
                        help="random crop HxW in image pixels (default 512x1024)")
    parser.add_argument("--views", choices=["scales", "sampler"], default="scales",
                        help="training views: whole frames at fixed --scales (maps cropped), or "
                             "the reference's crop sampler (the backbone run on every crop)")
    parser.add_argument("--scales", type=parse_scales, default=(0.5, 0.75, 1.0, 1.25, 1.5),
                        help="--views scales: resize ratios of the input size")
    sampler = parser.add_argument_group("--views sampler (see training/sampler.py)")
    sampler.add_argument("--ratio-range", type=parse_range, default=(0.5, 2.0),
                         help="resize ratio of the input size, drawn uniformly (default 0.5,2.0)")
    sampler.add_argument("--cat-max-ratio", type=float, default=0.75,
                         help="re-draw crops where one class covers more of the labelled pixels")
    sampler.add_argument("--photometric", action="store_true",
                         help="photometric jitter (brightness, contrast, saturation, hue)")
    sampler.add_argument("--corruptions", type=parse_names, default=(),
                         help="imagecorruptions names for covariate-shift augmentation, e.g. "
                              "fog,brightness,gaussian_noise,motion_blur,contrast")
    sampler.add_argument("--severities", type=parse_names, default=("1", "2", "3"),
                         help="corruption severities drawn per corrupted crop (default 1,2,3)")
    sampler.add_argument("--corruption-prob", type=float, default=0.0,
                         help="share of crops corrupted")
    sampler.add_argument("--draws", type=int, default=8,
                         help="cached sampler crops per frame (CPU path)")
    sampler.add_argument("--draw-seed", type=int, default=0,
                         help="seed of the cached draws (kept apart from --seed, so runs of "
                              "several training seeds share one cache)")
    sampler.add_argument("--online", action="store_true",
                         help="a fresh crop every iteration, the backbone run online (GPU path)")
    sampler.add_argument("--workers", type=int, default=4,
                         help="data-loader workers drawing crops with --online")
    sampler.add_argument("--stats-from", choices=["sampler", "frames"], default=None,
                         help="SML statistics: EMA over sampler crops (default with --views "
                              "sampler) or the clean frames at the input size (default otherwise)")
    sampler.add_argument("--stats-views", type=int, default=1000,
                         help="sampler crops in the statistics EMA (cached: at most the cache)")
    sampler.add_argument("--stats-momentum", type=float, default=0.01,
                         help="EMA momentum of the sampler statistics (the reference's 0.01)")
    paste = parser.add_argument_group("outlier exposure, --views sampler (see data/paste.py)")
    paste.add_argument("--outliers", type=Path, default=None,
                       help="outlier proxy folder (instances.csv + instances/*.png RGBA "
                            "cut-outs): pasted into training crops as m* = 1 pixels")
    paste.add_argument("--outlier-classes", choices=CLASS_PARTS, default="a",
                       help="class part of the proxy to paste (a / b: the fixed class split; "
                            "select on the other part)")
    paste.add_argument("--max-outliers", type=int, default=3,
                       help="outliers per crop, uniform in 0..N")
    paste.add_argument("--outlier-road-share", type=float, default=0.7,
                       help="share of outliers on the road (the rest on sidewalk / terrain)")
    paste.add_argument("--paste-controls", type=int, default=0,
                       help="in-distribution objects (cars, persons, poles ... cut from the "
                            "training frames) per crop, uniform in 0..N; 0: no paste control")
    paste.add_argument("--outlier-weight", type=float, default=defaults.outlier_weight,
                       help="loss weight of pasted outlier pixels (others 1)")
    parser.add_argument("--blocks", type=int, default=fed.num_blocks, help="coupling blocks L")
    parser.add_argument("--kernel-size", type=int, default=fed.kernel_size, help="subnet K")
    parser.add_argument("--dropout", type=float, default=fed.dropout,
                        help="Dropout2d inside the coupling subnets, in [0, 1) (it drops whole "
                             "channels: with FED-U's few, whole inputs)")
    parser.add_argument("--separable", action="store_true",
                        help="depthwise KxK convolutions in the coupling subnets (cheaper FED-C)")
    parser.add_argument("--groups", type=int, default=None,
                        help=f"condition channel groups P (FED-C; default {fed.condition_groups}, "
                             "or the feature channels when fewer)")
    parser.add_argument("--covariance", choices=["full", "diagonal"], default="full")
    parser.add_argument("--flow-stride", type=int, default=fed.flow_stride,
                        help="the flow runs at input size / stride (default 4)")
    parser.add_argument("--margin", action="store_true",
                        help="also condition the flow on the top-1/top-2 logit margin and log "
                             "MSP (FED-U and FED-C)")
    parser.add_argument("--condition-prior", action="store_true",
                        help="the prior odds of m = 1 a linear map of the condition (with "
                             "--margin or FED-C): p(m | z, a) ~ p(z | m, a) p(m | a)")
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

    if args.init_crops < 1:
        raise ConfigError(f"--init-crops must be >= 1, got {args.init_crops}")
    loaded = load_backbone(args)
    dataset = parse_data_spec(args.data)
    channels = loaded.info.feature_channels
    groups = args.groups if args.groups is not None else min(FEDConfig.condition_groups, channels)
    config = FEDConfig(variant=args.variant, num_blocks=args.blocks, kernel_size=args.kernel_size,
                       dropout=args.dropout, separable=args.separable, condition_groups=groups,
                       full_covariance=args.covariance == "full", flow_stride=args.flow_stride,
                       standardize=not args.raw_logits, margin=args.margin,
                       condition_prior=args.condition_prior)
    divides = channels % groups == 0
    if config.variant == "fed-c" and not divides:
        raise ConfigError(f"--groups {groups} does not divide the {channels} feature channels "
                          f"of {args.backbone}")
    # Conditions are cached whenever they can be, so FED-U and FED-C runs share one cache.
    rank, world_size = distributed_context()
    spec = CacheSpec(loaded.info.name, loaded.info.weights_sha256, channels, loaded.input_size,
                     config.flow_stride, groups if divides else 0, scales=args.scales,
                     sampler=sampler_config(args, loaded.input_size), draws=args.draws,
                     seed=args.draw_seed)
    if args.online and spec.sampler is None:
        raise ConfigError("--online draws sampler crops: add --views sampler")
    if args.online:
        source = OnlineViews(loaded.model, dataset, spec, args.workers, args.seed + 1000 * rank)
    else:
        if world_size > 1 and rank:  # rank 0 fills the cache first, the others then read it
            dist.barrier()
        source = CachedViews(build_cache(loaded.model, dataset, spec, args.cache_dir,
                                         progress=rank == 0))
        if world_size > 1 and not rank:
            dist.barrier()
    statistics = training_statistics(args, loaded, dataset, source)
    options = TrainOptions(iters=args.iters, lr=args.lr, batch_size=args.batch_size,
                           crop_size=args.crop, flip=spec.sampler is None, seed=args.seed,
                           void_positive=args.void == "positive",
                           outlier_weight=args.outlier_weight, init_crops=args.init_crops)
    trainer = Trainer(config, statistics, loaded.info, source, options, args.out, args.device,
                      extra={"views": view_description(spec, source), "statistics_from":
                             stats_origin(args)})
    if not args.restart:
        trainer.resume()
    trainer.run()
    if world_size > 1:  # every rank waits for rank 0's checkpoint, then all leave together:
        dist.barrier()  # a rank exiting with its process group alive can abort (SIGABRT)
        dist.destroy_process_group()
    LOGGER.info("FED checkpoint written to %s", args.out)
    return 0


def sampler_config(args: argparse.Namespace, input_size: tuple[int, int]) -> SamplerConfig | None:
    if args.views != "sampler":
        if args.outliers is not None:
            raise ConfigError("--outliers pastes into sampler crops: add --views sampler")
        return None
    try:
        severities = tuple(int(s) for s in args.severities)
    except ValueError:
        raise ConfigError(f"--severities {args.severities} are not integers 1-5") from None
    return SamplerConfig(input_size=input_size, crop_size=args.crop,
                         ratio_range=args.ratio_range, cat_max_ratio=args.cat_max_ratio,
                         photometric=args.photometric, corruptions=args.corruptions,
                         severities=severities, corruption_probability=args.corruption_prob,
                         paste=paste_config(args))


def paste_config(args: argparse.Namespace) -> PasteConfig | None:
    if args.outliers is None:
        if args.paste_controls:
            raise ConfigError("--paste-controls is the control of --outliers: add --outliers")
        return None
    if args.outlier_weight <= 0:
        raise ConfigError(f"--outlier-weight must be > 0, got {args.outlier_weight}")
    return PasteConfig.from_folder(str(args.outliers), args.outlier_classes,
                                   max_outliers=args.max_outliers,
                                   road_share=args.outlier_road_share,
                                   max_controls=args.paste_controls)


def stats_origin(args: argparse.Namespace) -> str:
    if args.stats is not None:
        return str(args.stats)
    return args.stats_from or ("sampler" if args.views == "sampler" else "frames")


def training_statistics(args: argparse.Namespace, loaded: LoadedBackbone,
                        dataset: LabelledFolder, source: CachedViews | OnlineViews
                        ) -> SMLStatistics:
    """--stats FILE, else the EMA over sampler views (the reference), else the clean frames."""
    origin = stats_origin(args)
    if origin == "frames":
        statistics = estimate_statistics(loaded.model, dataset, loaded.input_size)
    elif origin == "sampler":
        if args.views != "sampler":
            raise ConfigError("--stats-from sampler needs --views sampler")
        statistics = ema_statistics(loaded.model.class_names, sampler_view_statistics(
            source, args.stats_views, args.seed), args.stats_momentum)
    else:
        statistics = SMLStatistics.load(args.stats)
    if statistics.class_names != loaded.model.class_names:
        raise ConfigError(f"{origin} holds statistics of other classes than {args.backbone}'s")
    return statistics


def sampler_view_statistics(source: CachedViews | OnlineViews, views: int, seed: int
                            ) -> list[torch.Tensor]:
    """Per-view statistics in a seeded random order: all cached views (at most `views`), or
    `views` fresh online draws (the reference's pass at learning rate 0)."""
    if isinstance(source, CachedViews):
        order = torch.randperm(len(source.entries), generator=torch.Generator().manual_seed(seed))
        return [source.entries[i].statistics for i in order[:views].tolist()]
    generator = torch.Generator().manual_seed(seed)
    return [source.draw(generator).statistics
            for _ in tqdm(range(views), desc="statistics", unit="crop")]


def view_description(spec: CacheSpec, source: CachedViews | OnlineViews) -> dict:
    description = {"scales": list(spec.scales)} if spec.sampler is None else {
        "sampler": spec.sampler.to_dict(), "draws": "online" if isinstance(source, OnlineViews)
        else spec.draws}
    if isinstance(source, CachedViews):
        shares = outcome_shares(source.entries)
        description["outcome_shares"] = shares
        LOGGER.info("training views: %s", describe_positives(shares))
    return description
