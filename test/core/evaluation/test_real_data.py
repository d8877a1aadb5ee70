"""Real ERFNet on the real anomaly sets of ../shared/data (skipped without them)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from flowenedet_core.backbones.erfnet import build_erfnet
from flowenedet_core.data.datasets import AnomalyFolder
from flowenedet_core.data.transforms import resize_label
from flowenedet_core.evaluation.evaluator import EvalOptions, evaluate
from flowenedet_core.scores import SCORES, ScoreInputs, resolve_scores


@pytest.fixture(scope="module")
def erfnet(erfnet_weights):
    return build_erfnet(erfnet_weights)


@pytest.fixture(scope="module")
def road_anomaly(shared_data):
    return AnomalyFolder("RoadAnomaly21", shared_data / "anomaly" / "RoadAnomaly21")


def test_erfnet_reproduces_published_msp_on_road_anomaly21(erfnet, road_anomaly):
    result = evaluate(erfnet, [road_anomaly], resolve_scores("msp"), progress=False)[0]
    msp = result.metrics["msp"]
    assert abs(msp.ap - 29.08) < 1.0 and abs(msp.fpr95 - 62.57) < 1.0


@torch.no_grad()
def test_streaming_metrics_match_exact_on_real_msp_maps(erfnet, road_anomaly):
    scores, labels = [], []
    for sample in road_anomaly:
        output = erfnet(erfnet.to_input(sample.image))
        inputs = ScoreInputs(output.logits, 19, output, erfnet, (512, 1024))
        label = resize_label(sample.label, (512, 1024))
        valid = label != 255
        scores.append(SCORES["energy"].function(inputs)[0].numpy()[valid])
        labels.append(label[valid] == 1)
    scores, labels = np.concatenate(scores), np.concatenate(labels)
    result = evaluate(erfnet, [road_anomaly], resolve_scores("energy"), progress=False)[0]
    binned = result.metrics["energy"]
    fpr, tpr, _ = roc_curve(labels, scores)
    assert abs(binned.ap - 100 * average_precision_score(labels, scores)) < 0.1
    assert abs(binned.auroc - 100 * roc_auc_score(labels, scores)) < 0.1
    assert abs(binned.fpr95 - 100 * fpr[np.searchsorted(tpr, 0.95)]) < 0.1


@pytest.mark.slow
def test_msp_component_metrics_on_road_anomaly21_are_the_readme_numbers(erfnet, road_anomaly):
    result = evaluate(erfnet, [road_anomaly], resolve_scores("msp"),
                      options=EvalOptions(components=True), progress=False)[0]
    components = result.components["msp"]
    assert components.truth_components == 16
    assert (components.siou, components.ppv, components.mean_f1) == pytest.approx(
        (18.67, 14.11, 5.88), abs=0.05)
