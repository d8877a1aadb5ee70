import math

import pytest
import torch

from flowenedet_core.backbones.base import BackboneOutput, freeze
from flowenedet_core.backbones.erfnet import ERFNet
from flowenedet_core.errors import ConfigError
from flowenedet_core.fed import SMLStatistics
from flowenedet_core.scores import SCORES, ScoreInputs, resolve_scores


def inputs_for(logits: torch.Tensor, statistics=None) -> ScoreInputs:
    backbone = freeze(ERFNet())
    output = backbone(torch.zeros(1, 3, 16, 32))
    return ScoreInputs(logits=logits, num_classes=19, output=output, backbone=backbone,
                       input_size=(16, 32), statistics=statistics, mc_samples=3)


def confident_and_flat() -> torch.Tensor:
    logits = torch.zeros(1, 20, 1, 2)
    logits[0, 3, 0, 0] = 10.0  # pixel 0: confident; pixel 1: all classes equal
    return logits


@pytest.mark.parametrize("name", ["msp", "msp20", "maxlogit", "energy", "entropy"])
def test_flat_pixel_is_more_uncertain_than_confident_pixel(name):
    score = SCORES[name].function(inputs_for(confident_and_flat()))
    assert score.shape == (1, 1, 2)
    assert score[0, 0, 1] > score[0, 0, 0]


def test_msp_ignores_the_void_channel_and_msp20_does_not():
    logits = torch.zeros(1, 20, 1, 1)
    logits[0, 19] = 50.0
    inputs = inputs_for(logits)
    assert SCORES["msp"].function(inputs).item() == pytest.approx(1 - 1 / 19)
    assert SCORES["msp20"].function(inputs).item() == pytest.approx(0.0, abs=1e-6)


def test_entropy_of_uniform_softmax_is_log_classes():
    value = SCORES["entropy"].function(inputs_for(torch.zeros(1, 20, 1, 1))).item()
    assert value == pytest.approx(math.log(19))


def test_sml_standardizes_by_the_predicted_class():
    names = tuple(str(i) for i in range(19))
    statistics = SMLStatistics(names, tuple([2.0] * 19), tuple([0.5] * 19), tuple([1] * 19))
    logits = torch.zeros(1, 20, 1, 1)
    logits[0, 4] = 3.0
    assert SCORES["sml"].function(inputs_for(logits, statistics)).item() == pytest.approx(-2.0)


def test_mc_dropout_returns_entropy_map_at_evaluation_resolution():
    inputs = inputs_for(torch.zeros(1, 20, 16, 32))
    value = SCORES["mcdropout"].function(inputs)
    assert value.shape == (1, 16, 32)
    assert float(value.min()) >= 0 and float(value.max()) <= math.log(19) + 1e-5


def test_unknown_score_lists_the_registry():
    with pytest.raises(ConfigError, match=r"unknown score.*choose from msp"):
        resolve_scores("msp,softmax9")


def test_score_inputs_upsample_to_logit_resolution():
    inputs = inputs_for(torch.zeros(1, 20, 8, 8))
    assert inputs.upsample(torch.ones(1, 2, 2)).shape == (1, 8, 8)
    assert isinstance(inputs.output, BackboneOutput)
