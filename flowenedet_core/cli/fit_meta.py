"""`flowenedet fit-meta`: fit the meta classifier of anomaly components (metrics/meta_classifier.py)
on anomaly folders that are not the evaluation sets, e.g. held-out train frames with cut-outs
pasted (`flowenedet synth --paste-into ... --cutouts ...`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import embedded
from ..data.spec import parse_data_spec
from ..errors import ConfigError
from ..evaluation.evaluator import EvalOptions, KeptFrame, evaluate_dataset
from ..metrics.components import VOID
from ..metrics.meta_classifier import component_features, fit_logistic, label_components
from .common import LOGGER, add_backbone_arguments, load_backbone
from .evaluate import load_detectors, resolve_requested_scores

MIN_PPV = 0.5  # a component is a real anomaly when at least half of its pixels are on one


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit-meta", help="fit the meta classifier that removes false-alarm anomaly components",
        description="Components of each score map thresholded at the data's pooled best-F1 "
                    "threshold; a component is a real anomaly when at least half of its "
                    "non-void pixels are anomaly pixels; a class-balanced L2 logistic "
                    "regression over its metrics. Writes JSON (default: FED_DIR/meta.json).")
    add_backbone_arguments(parser)
    parser.add_argument("--data", action="append", required=True,
                        help="[NAME=]anomaly:DIR (repeatable): frames with known anomalies that "
                             "are not the evaluation sets")
    parser.add_argument("--fed", default=None,
                        help="FED checkpoint directory (score `fed`), or embedded:fed-u / "
                             "embedded:fed-c")
    parser.add_argument("--score", default="fed", help="the score the classifier is for")
    parser.add_argument("--out", type=Path, default=None,
                        help="classifier JSON (default: FED_DIR/meta.json)")
    parser.set_defaults(run=run)


def training_rows(frames: list[KeptFrame], score: str, threshold: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Metrics and targets (1: a real anomaly) of every component of every frame."""
    rows, targets = [], []
    for frame in frames:
        scores = frame.maps[score].astype(np.float32)
        regions, stats = label_components(scores > threshold)
        ids = np.arange(1, len(stats))
        if not ids.size:
            continue
        rows.append(component_features(regions, stats, ids, scores, frame.prediction,
                                        threshold))
        valid = frame.label != VOID
        on_anomaly = np.bincount(regions[valid], weights=(frame.label[valid] == 1),
                                 minlength=len(stats))
        counted = np.bincount(regions[valid], minlength=len(stats))
        targets.append(on_anomaly[ids] >= MIN_PPV * np.maximum(counted[ids], 1))
    if not rows:
        raise ConfigError(f"no {score} component above its threshold {threshold:.3g}")
    return np.concatenate(rows), np.concatenate(targets).astype(np.float64)


def run(args: argparse.Namespace) -> int:
    loaded = load_backbone(args)
    args.fed = [args.fed] if args.fed else []
    detectors = load_detectors(args, loaded)
    statistics = detectors[0][1].detector.statistics if detectors else None
    (score,) = resolve_requested_scores(args.score, detectors, statistics)
    out = args.out or (embedded.resolve(args.fed[0]) / "meta.json" if args.fed else None)
    if out is None:
        raise ConfigError("--out FILE is needed without --fed")
    options = EvalOptions(input_size=loaded.input_size, components=True)
    frames, thresholds = [], []
    for spec in args.data:
        dataset = parse_data_spec(spec)
        if dataset.kind != "anomaly":
            raise ConfigError(f"--data {spec!r}: the classifier learns from anomaly folders")
        evaluation = evaluate_dataset(loaded.model, dataset, [score], statistics, options)
        threshold = evaluation.pooled[score.name].best_f1_threshold()
        frames.append((evaluation.kept, threshold))
        thresholds.append(threshold)
    parts = [training_rows(kept, score.name, threshold) for kept, threshold in frames]
    rows = np.concatenate([r for r, _ in parts])
    targets = np.concatenate([t for _, t in parts])
    classifier = fit_logistic(rows, targets, score.name, training={
        "data": args.data, "components": len(targets), "real": int(targets.sum()),
        "thresholds": thresholds, "backbone": args.backbone, "fed": args.fed})
    classifier.save(out)
    accuracy = float(((classifier.probabilities(rows) >= 0.5) == targets.astype(bool)).mean())
    LOGGER.info("meta classifier for %s: %d components (%d real), training accuracy %.3f",
                score.name, len(targets), int(targets.sum()), accuracy)
    print(f"wrote {out}")
    return 0
