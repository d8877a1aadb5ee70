"""One pass over labelled datasets: one backbone forward per image, every score from it.

Anomaly folders: labels resized (nearest) to the backbone's input size, positive = anomaly, void
ignored, images without anomaly pixels skipped (the SegmentMeIfYouCan / course protocol).
Cityscapes folders (misclassification detection, IDM): logits upsampled bilinearly to the label
size, positive = wrong argmax, void ignored; also mIoU and, for scores given a threshold, open-mIoU.
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
from ..metrics.ranking import DEFAULT_BITS, RankingAccumulator, RankingMetrics
from ..metrics.segmentation import ConfusionMatrix, open_set_maps
from ..postprocess import suppress_boundaries
from ..scores import Score, ScoreInputs

LOGGER = logging.getLogger(__name__)
SMOOTHED_SUFFIX = "+bs"


@dataclass(frozen=True)
class EvalOptions:
    input_size: tuple[int, int] | None = None  # None: the backbone's default
    boundary_smoothing: bool = False  # also report every score after boundary suppression
    open_thresholds: dict[str, float] = field(default_factory=dict)  # score -> open-mIoU threshold
    bits: int = DEFAULT_BITS  # histogram resolution of the ranking metrics
    mc_samples: int = 8


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

    def add(self, maps: dict[str, np.ndarray], positive: np.ndarray, valid: np.ndarray,
            prediction: np.ndarray, label: np.ndarray) -> None:
        for name, scores in maps.items():
            self.pooled[name].update(scores, positive, valid)
        if self.result.kind != "cityscapes":
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

    def finish(self) -> DatasetResult:
        result = self.result
        for name, accumulator in self.pooled.items():
            result.metrics[name] = accumulator.compute()
            result.curves[name] = accumulator.curves()
            if self.per_image[name]:
                result.per_image[name] = {
                    key: float(np.mean([getattr(m, key) for m in self.per_image[name]]))
                    for key in ("ap", "auroc", "fpr95")}
        if result.kind == "cityscapes":
            result.miou = self.confusion.miou()
            result.pixel_accuracy = self.confusion.pixel_accuracy()
            result.open_miou = {name: c.miou() for name, c in self.open_confusion.items()}
        return result


def score_maps(scores: list[Score], inputs: ScoreInputs, prediction: torch.Tensor,
               boundary_smoothing: bool) -> dict[str, np.ndarray]:
    """Every requested score of one image (batch of one) as (H, W) numpy maps."""
    maps = {}
    for score in scores:
        values = score.function(inputs).float()
        maps[score.name] = values[0].cpu().numpy()
        if boundary_smoothing:
            smoothed = suppress_boundaries(values, prediction)
            maps[score.name + SMOOTHED_SUFFIX] = smoothed[0].cpu().numpy()
    return maps


@torch.no_grad()
def evaluate(backbone: Backbone, datasets: list[LabelledFolder], scores: list[Score],
             statistics: SMLStatistics | None = None,
             options: EvalOptions = EvalOptions(), progress: bool = True
             ) -> list[DatasetResult]:
    input_size = options.input_size or backbone.preprocessing.input_size
    names = [s.name for s in scores]
    if options.boundary_smoothing:
        names += [n + SMOOTHED_SUFFIX for n in names]
    results = []
    for dataset in datasets:
        evaluation = DatasetEvaluation(dataset, names, backbone.num_classes, options)
        for sample in tqdm(dataset, desc=dataset.name, disable=not progress, unit="img"):
            if dataset.kind == "anomaly":
                label = resize_label(sample.label, input_size)
                if not (label == 1).any():
                    evaluation.result.skipped += 1
                    continue
            else:
                label = sample.label
            output = backbone(backbone.to_input(sample.image, input_size))
            logits = upsample_to(output.logits.float(), label.shape)
            prediction = logits[:, :backbone.num_classes].argmax(1)
            inputs = ScoreInputs(logits=logits, num_classes=backbone.num_classes, output=output,
                                 backbone=backbone, input_size=input_size,
                                 statistics=statistics, mc_samples=options.mc_samples)
            maps = score_maps(scores, inputs, prediction, options.boundary_smoothing)
            prediction_np = prediction[0].cpu().numpy()
            valid = label != 255
            positive = (label == 1) if dataset.kind == "anomaly" else (prediction_np != label)
            evaluation.add(maps, positive, valid, prediction_np, label)
            evaluation.result.images += 1
        results.append(evaluation.finish())
        LOGGER.info("%s: %d images evaluated, %d skipped without anomaly pixels",
                    dataset.name, evaluation.result.images, evaluation.result.skipped)
    return results
