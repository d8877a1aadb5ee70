"""`flowenedet eval`: many scores over anomaly and Cityscapes-format folders in one pass."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import embedded
from ..checkpoint import DetectorCheckpoint, check_pairing, load_checkpoint
from ..data.spec import parse_data_spec
from ..errors import ConfigError
from ..evaluation.evaluator import EvalOptions, evaluate
from ..evaluation.report import markdown_table, save_plots, write_json
from ..fed.statistics import SMLStatistics
from ..metrics.meta_classifier import MetaClassifier
from ..scores import SCORES, Score, fed_score, resolve_scores
from .common import LOGGER, LoadedBackbone, add_backbone_arguments, add_tta_argument, load_backbone


def parse_assignment(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate uncertainty scores (OOD and misclassification detection)",
        description="One backbone forward per image, every score from it. Anomaly folders: "
                    "AP/AUROC/FPR95 of anomaly pixels. Cityscapes folders: misclassification "
                    "detection (positive = wrong argmax), mIoU, open-mIoU.")
    add_backbone_arguments(parser)
    parser.add_argument("--data", action="append", required=True,
                        help="[NAME=]anomaly:DIR | [NAME=]cityscapes:DIR:SPLIT | "
                             "[NAME=]cityscapes-c:DIR:SPLIT:CORRUPTION:SEVERITY (repeatable)")
    parser.add_argument("--fed", action="append", default=[],
                        help="FED checkpoint directory (or embedded:fed-u / embedded:fed-c), or "
                             "NAME=DIR to compare several")
    parser.add_argument("--stats", type=Path, default=None,
                        help="SML statistics JSON for `sml` (default: the FED checkpoint's)")
    parser.add_argument("--scores", default="msp,maxlogit,energy,entropy,sml,fed",
                        help=f"comma-separated, from: {', '.join(SCORES)}, fed (one per --fed)")
    parser.add_argument("--boundary-smoothing", action="store_true",
                        help="also report every score after SML boundary suppression + "
                             "dilated smoothing (suffix +bs)")
    parser.add_argument("--gaussian-smoothing", action="store_true",
                        help="also report every score after a 7x7, sigma-1 Gaussian blur "
                             "(suffix +gs), the reference's smoothing of MSP/MaxLogit/Energy")
    add_tta_argument(parser, "every score")
    parser.add_argument("--open-threshold", action="append", default=[], type=parse_assignment,
                        help="SCORE=T: open-mIoU with this score threshold, chosen on other data")
    parser.add_argument("--components", action="store_true",
                        help="also SegmentMeIfYouCan's component-level metrics on anomaly "
                             "folders: sIoU, PPV, mean F1 (at each score's best-F1 threshold)")
    parser.add_argument("--meta", action="append", default=[], type=parse_assignment,
                        help="SCORE=FILE: with --components, also SCORE+meta, its components "
                             "filtered by this meta classifier (`flowenedet fit-meta`); a "
                             "--fed directory's meta.json is used for its score by default")
    parser.add_argument("--mc-samples", type=int, default=8, help="MC-dropout passes")
    parser.add_argument("--json", type=Path, default=None, help="write results JSON here")
    parser.add_argument("--plots", type=Path, default=None, help="write ROC/PR PNGs here")
    parser.set_defaults(run=run)


def load_detectors(args: argparse.Namespace, loaded: LoadedBackbone
                   ) -> list[tuple[str, DetectorCheckpoint]]:
    """`--fed DIR` or `--fed NAME=DIR` (repeatable) -> named checkpoints, checked for pairing."""
    detectors = []
    for item in args.fed:
        name, _, directory = item.rpartition("=") if "=" in item else ("fed", "", item)
        checkpoint = load_checkpoint(embedded.resolve(directory))
        check_pairing(checkpoint, loaded.info)
        checkpoint.detector.to(args.device)
        detectors.append((name, checkpoint))
    return detectors


def resolve_requested_scores(names: str, detectors: list[tuple[str, DetectorCheckpoint]],
                             statistics: SMLStatistics | None) -> list[Score]:
    """Registry scores, with `fed` expanded into one score per detector."""
    names = [n.strip() for n in names.split(",") if n.strip()]
    scores = resolve_scores([n for n in names if n != "fed"])
    if "fed" in names:
        if not detectors:
            raise ConfigError("score 'fed' needs --fed CKPT_DIR")
        scores += [fed_score(name, checkpoint.detector) for name, checkpoint in detectors]
    if any(score.needs_statistics for score in scores) and statistics is None:
        raise ConfigError("score 'sml' needs --stats STATS.json or a --fed checkpoint")
    return scores


def meta_classifiers(args: argparse.Namespace, score_names: list[str]
                     ) -> dict[str, MetaClassifier]:
    """--meta SCORE=FILE, else each --fed NAME=DIR's meta.json for its score."""
    files = {}
    for item in args.fed:
        name, _, directory = item.rpartition("=") if "=" in item else ("fed", "", item)
        if (Path(directory) / "meta.json").is_file():
            files[name] = Path(directory) / "meta.json"
    files.update({name: Path(path) for name, path in args.meta})
    unknown = sorted(set(files) - set(score_names))
    if unknown and args.meta:
        raise ConfigError(f"--meta for {unknown}: not among the scores {score_names}")
    return {name: MetaClassifier.load(path) for name, path in files.items()
            if name in score_names and args.components}


def run(args: argparse.Namespace) -> int:
    loaded = load_backbone(args)
    datasets = [parse_data_spec(spec) for spec in args.data]
    detectors = load_detectors(args, loaded)
    statistics = SMLStatistics.load(args.stats) if args.stats else None
    if statistics is None and detectors:
        statistics = detectors[0][1].detector.statistics
    scores = resolve_requested_scores(args.scores, detectors, statistics)
    options = EvalOptions(input_size=loaded.input_size,
                          boundary_smoothing=args.boundary_smoothing,
                          gaussian_smoothing=args.gaussian_smoothing, tta_scales=args.tta,
                          open_thresholds={k: float(v) for k, v in args.open_threshold},
                          mc_samples=args.mc_samples, components=args.components,
                          meta=meta_classifiers(args, [s.name for s in scores]))
    results = evaluate(loaded.model, datasets, scores, statistics, options=options)
    print(markdown_table(results))
    meta = {"backbone": args.backbone, "weights_sha256": loaded.info.weights_sha256,
            "input_size": list(loaded.input_size), "scores": [s.name for s in scores],
            "tta_scales": list(args.tta), "fed": args.fed, "data": args.data}
    if args.json:
        write_json(results, args.json, meta)
        LOGGER.info("wrote %s", args.json)
    if args.plots:
        for path in save_plots(results, args.plots):
            LOGGER.info("wrote %s", path)
    return 0
