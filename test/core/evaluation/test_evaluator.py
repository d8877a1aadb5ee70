"""Test-time scales and smoothing of `evaluate` on the random ERFNet and the tiny folders."""

import pytest
import torch

from flowenedet_core.backbones.base import upsample_to
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.data.datasets import AnomalyFolder, CityscapesFolder
from flowenedet_core.evaluation.evaluator import EvalOptions, averaged_scores, evaluate
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
