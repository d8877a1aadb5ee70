"""One pass over labelled datasets: one backbone forward per image (per test-time scale), every
score from it.

Anomaly folders: labels resized (nearest) to the backbone's input size, positive = anomaly, void
ignored, images without anomaly pixels skipped (the SegmentMeIfYouCan / course protocol).
Cityscapes folders (misclassification detection, IDM): logits upsampled bilinearly to the label
size, positive = wrong argmax, void ignored; also mIoU and, for scores given a threshold, open-mIoU.

With `components`, anomaly folders also get SegmentMeIfYouCan's component-level metrics (sIoU,
PPV, mean F1; metrics/components.py) at each score's pooled best-F1 pixel threshold: the score maps
are kept (float16) until the dataset's threshold is known, and the benchmark's component size
limits are scaled from each image's own resolution to the evaluation resolution. A score with a
meta classifier (`EvalOptions.meta`) is also reported as SCORE+meta: its components classified
as false alarms removed before the component metrics.

Multi-scale test-time augmentation runs the backbone again at each extra scale of the input size,
computes every score there as at scale 1 (at the evaluation resolution) and averages the scales;
the prediction (argmax, mIoU, IDM positives, predicted boundaries) is scale 1's. Boundary
suppression (+bs) and Gaussian smoothing (+gs) post-process the averaged map.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..backbones.base import Backbone, upsample_to
from ..data.datasets import LabelledFolder
from ..data.transforms import resize_label
from ..fed.statistics import SMLStatistics
from ..metrics.components import (
    ANOMALY_TRACK_SIZES,
    ComponentAccumulator,
    ComponentMetrics,
    scaled_sizes,
)
from ..metrics.meta_classifier import MetaClassifier
from ..metrics.ranking import DEFAULT_BITS, RankingAccumulator, RankingMetrics
from ..metrics.segmentation import ConfusionMatrix, open_set_maps
from ..postprocess import gaussian_smooth, suppress_boundaries
from ..scores import Score, ScoreInputs
from ..tta import SINGLE_SCALE, average, check_tta_scales, scaled_size

LOGGER = logging.getLogger(__name__)
SMOOTHED_SUFFIX = "+bs"  # boundary suppression + dilated smoothing (FED / SML in the reference)
GAUSSIAN_SUFFIX = "+gs"  # plain 7x7 Gaussian (MSP / MaxLogit / Energy in the reference)
META_SUFFIX = "+meta"  # component metrics after meta classification


@dataclass(frozen=True)
class EvalOptions:
    input_size: tuple[int, int] | None = None  # None: the backbone's default
    boundary_smoothing: bool = False  # also report every score after boundary suppression
    gaussian_smoothing: bool = False  # also report every score after a 7x7 Gaussian
    tta_scales: tuple[float, ...] = SINGLE_SCALE  # test-time scales of input_size, 1.0 first
    open_thresholds: dict[str, float] = field(default_factory=dict)  # score -> open-mIoU threshold
    bits: int = DEFAULT_BITS  # histogram resolution of the ranking metrics
    components: bool = False  # also SegmentMeIfYouCan's component metrics (anomaly folders)
    mc_samples: int = 8
    meta: dict[str, MetaClassifier] = field(default_factory=dict)  # score -> its classifier


@dataclass
class DatasetResult:
    name: str
    kind: str
    images: int = 0
    skipped: int = 0
    metrics: dict[str, RankingMetrics] = field(default_factory=dict)
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)
    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    miou: float | None = None
    pixel_accuracy: float | None = None
    open_miou: dict[str, float] = field(default_factory=dict)
    components: dict[str, ComponentMetrics] = field(default_factory=dict)


@dataclass
class KeptFrame:
    """What the component metrics need of one frame once the dataset's threshold is known."""

    label: np.ndarray  # (H, W) 0 / 1 / 255
    maps: dict[str, np.ndarray]  # score -> (H, W) float16
    sizes: tuple[int, int]  # component size limits at this resolution
    prediction: np.ndarray  # (H, W) uint8 predicted train ids


class DatasetEvaluation:
    """Accumulators of one dataset."""

    def __init__(self, dataset: LabelledFolder, score_names: list[str], num_classes: int,
                 options: EvalOptions) -> None:
        self.result = DatasetResult(dataset.name, dataset.kind)
        self.options = options
        self.pooled = {name: RankingAccumulator(options.bits) for name in score_names}
        self.per_image: dict[str, list[RankingMetrics]] = {name: [] for name in score_names}
        self.confusion = ConfusionMatrix(num_classes)
        self.open_confusion = {name: ConfusionMatrix(num_classes + 1)
                               for name in options.open_thresholds}
        # per image, for the components: label, float16 score maps, size limits, prediction
        self.kept: list[KeptFrame] = []

    def add(self, maps: dict[str, np.ndarray], positive: np.ndarray, valid: np.ndarray,
            prediction: np.ndarray, label: np.ndarray, native_pixels: int = 0) -> None:
        for name, scores in maps.items():
            self.pooled[name].update(scores, positive, valid)
        if self.result.kind != "cityscapes":
            if self.options.components:
                sizes = scaled_sizes(ANOMALY_TRACK_SIZES, native_pixels or label.size,
                                     label.size)
                self.kept.append(KeptFrame(label, {name: scores.astype(np.float16)
                                                   for name, scores in maps.items()}, sizes,
                                           prediction.astype(np.uint8)))
            return
        self.confusion.update(prediction, label)
        has_both = positive[valid].any() and not positive[valid].all()
        for name, scores in maps.items():
            if has_both:
                single = RankingAccumulator(self.options.bits)
                single.update(scores, positive, valid)
                self.per_image[name].append(single.compute())
            if name in self.open_confusion:
                num_classes = self.confusion.num_classes
                open_prediction, open_target = open_set_maps(
                    prediction, label, scores, self.options.open_thresholds[name], num_classes)
                self.open_confusion[name].update(open_prediction, open_target)

    def _components(self, name: str, pooled: RankingAccumulator,
                    meta: MetaClassifier | None = None) -> ComponentMetrics:
        threshold = pooled.best_f1_threshold()
        accumulator = ComponentAccumulator()
        for frame in self.kept:
            scores = frame.maps[name].astype(np.float32)
            anomalous = (scores > threshold if meta is None
                         else meta.keep(scores, frame.prediction, threshold))
            accumulator.update(anomalous, frame.label, frame.sizes)
        return accumulator.compute(threshold)

    def finish(self) -> DatasetResult:
        result = self.result
        for name, accumulator in self.pooled.items():
            result.metrics[name] = accumulator.compute()
            result.curves[name] = accumulator.curves()
            if self.per_image[name]:
                result.per_image[name] = {
                    key: float(np.mean([getattr(m, key) for m in self.per_image[name]]))
                    for key in ("ap", "auroc", "fpr95")}
            if self.kept:
                result.components[name] = self._components(name, accumulator)
                if name in self.options.meta:
                    result.components[name + META_SUFFIX] = self._components(
                        name, accumulator, self.options.meta[name])
        if result.kind == "cityscapes":
            result.miou = self.confusion.miou()
            result.pixel_accuracy = self.confusion.pixel_accuracy()
            result.open_miou = {name: c.miou() for name, c in self.open_confusion.items()}
        return result


def averaged_scores(backbone: Backbone, image: np.ndarray, scores: list[Score],
                    input_size: tuple[int, int], evaluation_size: tuple[int, int],
                    statistics: SMLStatistics | None, options: EvalOptions
                    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Every score of one image, averaged over the test-time scales, as (1, H, W) maps at
    `evaluation_size`, and scale 1's predicted classes: one backbone forward per scale."""
    per_scale: dict[str, list[torch.Tensor]] = {score.name: [] for score in scores}
    prediction = None
    for scale in check_tta_scales(options.tta_scales):  # 1.0 first
        size = scaled_size(input_size, scale)
        output = backbone(backbone.to_input(image, size))
        inputs = ScoreInputs(logits=upsample_to(output.logits.float(), evaluation_size),
                             num_classes=backbone.num_classes, output=output, backbone=backbone,
                             input_size=size, statistics=statistics,
                             mc_samples=options.mc_samples)
        if prediction is None:
            prediction = inputs.class_logits.argmax(1)
        for score in scores:
            per_scale[score.name].append(score.function(inputs).float())
    return {name: average(maps) for name, maps in per_scale.items()}, prediction


def score_maps(averaged: dict[str, torch.Tensor], prediction: torch.Tensor,
               options: EvalOptions) -> dict[str, np.ndarray]:
    """The (H, W) numpy maps of every score, and of its post-processed versions."""
    maps = {}
    for name, values in averaged.items():
        maps[name] = values[0].cpu().numpy()
        if options.boundary_smoothing:
            smoothed = suppress_boundaries(values, prediction)
            maps[name + SMOOTHED_SUFFIX] = smoothed[0].cpu().numpy()
        if options.gaussian_smoothing:
            maps[name + GAUSSIAN_SUFFIX] = gaussian_smooth(values)[0].cpu().numpy()
    return maps


@torch.no_grad()
def evaluate(backbone: Backbone, datasets: list[LabelledFolder], scores: list[Score],
             statistics: SMLStatistics | None = None,
             options: EvalOptions = EvalOptions(), progress: bool = True
             ) -> list[DatasetResult]:
    return [evaluate_dataset(backbone, dataset, scores, statistics, options, progress).finish()
            for dataset in datasets]


@torch.no_grad()
def evaluate_dataset(backbone: Backbone, dataset: LabelledFolder, scores: list[Score],
                     statistics: SMLStatistics | None, options: EvalOptions,
                     progress: bool = True) -> DatasetEvaluation:
    """Every frame of one dataset into its accumulators (`finish()` computes the metrics)."""
    input_size = options.input_size or backbone.preprocessing.input_size
    names = [s.name for s in scores]
    names += [n + suffix for suffix, asked in ((SMOOTHED_SUFFIX, options.boundary_smoothing),
                                               (GAUSSIAN_SUFFIX, options.gaussian_smoothing))
              if asked for n in names]
    evaluation = DatasetEvaluation(dataset, names, backbone.num_classes, options)
    for sample in tqdm(dataset, desc=dataset.name, disable=not progress, unit="img"):
        if dataset.kind == "anomaly":
            label = resize_label(sample.label, input_size)
            if not (label == 1).any():
                evaluation.result.skipped += 1
                continue
        else:
            label = sample.label
        averaged, prediction = averaged_scores(backbone, sample.image, scores, input_size,
                                               label.shape, statistics, options)
        maps = score_maps(averaged, prediction, options)
        prediction_np = prediction[0].cpu().numpy()
        valid = label != 255
        positive = (label == 1) if dataset.kind == "anomaly" else (prediction_np != label)
        evaluation.add(maps, positive, valid, prediction_np, label, sample.label.size)
        evaluation.result.images += 1
    LOGGER.info("%s: %d images evaluated, %d skipped without anomaly pixels",
                dataset.name, evaluation.result.images, evaluation.result.skipped)
    return evaluation
