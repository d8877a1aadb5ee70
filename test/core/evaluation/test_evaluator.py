"""Test-time scales and smoothing of `evaluate` on the random ERFNet and the tiny folders."""

import pytest
import torch

from flowenedet_core.backbones.base import upsample_to
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.data.datasets import AnomalyFolder, CityscapesFolder
from flowenedet_core.data.transforms import resize_label
from flowenedet_core.evaluation.evaluator import EvalOptions, averaged_scores, evaluate
from flowenedet_core.evaluation.report import markdown_table, results_to_json
from flowenedet_core.metrics.components import (
    ANOMALY_TRACK_SIZES,
    ComponentAccumulator,
    scaled_sizes,
)
from flowenedet_core.scores import ScoreInputs, resolve_scores

SIZE = (64, 128)
SCORES = resolve_scores("msp,energy,mcdropout")


@pytest.fixture(scope="module")
def backbone(tiny_data):
    return create_backbone("erfnet", tiny_data["weights"], input_size=SIZE)


@pytest.fixture(scope="module")
def image(tiny_data):
    return next(iter(CityscapesFolder("val", tiny_data["cityscapes"], "val"))).image


@torch.no_grad()
def test_one_scale_is_exactly_the_single_scale_evaluation(backbone, image):
    torch.manual_seed(0)  # MC dropout
    averaged, prediction = averaged_scores(backbone, image, SCORES, SIZE, (96, 192), None,
                                           EvalOptions(tta_scales=(1.0,)))
    torch.manual_seed(0)
    output = backbone(backbone.to_input(image, SIZE))
    logits = upsample_to(output.logits.float(), (96, 192))
    inputs = ScoreInputs(logits, 19, output, backbone, SIZE)
    for score in SCORES:
        assert torch.equal(averaged[score.name], score.function(inputs).float()), score.name
    assert torch.equal(prediction, logits[:, :19].argmax(1))


@torch.no_grad()
def test_scales_are_averaged_at_the_evaluation_resolution_with_scale_one_labels(backbone,
                                                                                image):
    options = EvalOptions(tta_scales=(1.0, 0.5, 0.25))
    single, single_prediction = averaged_scores(backbone, image, SCORES[:2], SIZE, (96, 192),
                                                None, EvalOptions())
    averaged, prediction = averaged_scores(backbone, image, SCORES[:2], SIZE, (96, 192), None,
                                           options)
    assert all(values.shape == (1, 96, 192) for values in averaged.values())
    assert torch.equal(prediction, single_prediction)
    assert not torch.equal(averaged["msp"], single["msp"])


def test_evaluate_reports_raw_boundary_and_gaussian_smoothed_scores(backbone, tiny_data):
    datasets = [AnomalyFolder("toy", tiny_data["anomaly"]),
                CityscapesFolder("val", tiny_data["cityscapes"], "val")]
    options = EvalOptions(input_size=SIZE, boundary_smoothing=True, gaussian_smoothing=True,
                          tta_scales=(1.0, 0.5))
    results = evaluate(backbone, datasets, SCORES[:2], options=options, progress=False)
    for result in results:
        assert list(result.metrics) == ["msp", "energy", "msp+bs", "energy+bs", "msp+gs",
                                        "energy+gs"]
        assert result.metrics["msp+gs"].ap != result.metrics["msp"].ap
    assert results[1].miou is not None and set(results[1].per_image) >= {"msp+gs"}


def test_component_metrics_are_those_of_the_thresholded_maps(backbone, tiny_data):
    folder = AnomalyFolder("tiny", tiny_data["anomaly"])
    scores = resolve_scores("msp")
    (result,) = evaluate(backbone, [folder], scores, options=EvalOptions(input_size=SIZE,
                                                                          components=True),
                         progress=False)
    metrics = result.components["msp"]
    expected = ComponentAccumulator()
    for sample in folder:
        label = resize_label(sample.label, SIZE)
        if not (label == 1).any():
            continue
        maps, _ = averaged_scores(backbone, sample.image, scores, SIZE, SIZE, None,
                                  EvalOptions())
        anomalous = maps["msp"][0].numpy().astype("float16").astype("float32") > \
            metrics.threshold
        expected.update(anomalous, label, scaled_sizes(ANOMALY_TRACK_SIZES, sample.label.size,
                                                       label.size))
    assert metrics == expected.compute(metrics.threshold)
    assert metrics.truth_components > 0
    assert results_to_json([result])["datasets"]["tiny"]["msp"]["components"]["mean_f1"] == \
        metrics.mean_f1
    assert "sIoU / PPV / mean F1" in markdown_table([result])
