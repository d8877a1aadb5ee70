import json

import numpy as np
import pytest

from flowenedet_core.errors import CheckpointError, DataError
from flowenedet_core.metrics.meta_classifier import (
    FEATURES,
    MetaClassifier,
    component_features,
    fit_logistic,
    label_components,
)


def two_components() -> tuple[np.ndarray, np.ndarray]:
    """A bright square on the road (bordered by road) and a faint bar in the sky, on a 40x80
    frame: uncertainty and predicted train ids."""
    uncertainty = np.zeros((40, 80), np.float32)
    labels = np.full((40, 80), 10, np.uint8)  # sky
    labels[20:] = 0  # road
    uncertainty[25:35, 30:40] = 0.9
    uncertainty[27:30, 33:36] = 1.0
    uncertainty[2:4, 0:20] = 0.6
    return uncertainty, labels


def test_component_features_measure_a_hand_built_component():
    uncertainty, labels = two_components()
    regions, stats = label_components(uncertainty > 0.5)
    rows = component_features(regions, stats, np.arange(1, len(stats)), uncertainty, labels,
                              0.5)
    by_name = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    square = next(r for r in by_name if r["peak_over_threshold"] == pytest.approx(0.5))
    bar = next(r for r in by_name if r["peak_over_threshold"] == pytest.approx(0.1))
    assert square["log_area"] == pytest.approx(np.log(100 / 3200))
    assert square["mean_over_threshold"] == pytest.approx((9 * 1.0 + 91 * 0.9) / 100 - 0.5)
    assert square["drivable_ring"] == 1.0 and bar["drivable_ring"] == 0.0
    assert square["ring_over_threshold"] == -0.5 and square["box_fill"] == 1.0
    assert square["bottom_row"] == pytest.approx(35 / 40)
    assert square["border_distance"] == pytest.approx(5 / 40) and bar["border_distance"] == 0
    assert bar["log_aspect"] == pytest.approx(np.log(2 / 20))


def test_component_features_follow_the_threshold_not_the_uncertainty_level():
    """The same components cut out of a map shifted down by 0.2 at a threshold 0.2 lower (an
    operating point that moved with the domain) have the same features."""
    uncertainty, labels = two_components()
    regions, stats = label_components(uncertainty > 0.5)
    ids = np.arange(1, len(stats))
    shifted = uncertainty - np.float32(0.2)
    np.testing.assert_allclose(
        component_features(regions, stats, ids, shifted, labels, 0.3),
        component_features(regions, stats, ids, uncertainty, labels, 0.5), atol=1e-6)


def test_logistic_fit_separates_and_keeps_only_real_components(tmp_path):
    rng = np.random.default_rng(0)
    real = rng.normal(1.0, 0.5, (40, len(FEATURES)))
    false = rng.normal(-1.0, 0.5, (200, len(FEATURES)))
    rows = np.vstack([real, false])
    targets = np.r_[np.ones(40), np.zeros(200)]
    classifier = fit_logistic(rows, targets, "fed")
    predicted = classifier.probabilities(rows) >= 0.5
    assert (predicted == targets.astype(bool)).mean() > 0.97
    # the exact optimum: the gradient of the class-weighted, penalised likelihood vanishes
    reference = fit_logistic(rows, targets, "fed", iterations=200)
    np.testing.assert_allclose(classifier.weights, reference.weights, atol=1e-8)
    path = classifier.save(tmp_path / "meta.json")
    assert MetaClassifier.load(path) == classifier
    with pytest.raises(DataError, match="both kinds"):
        fit_logistic(rows[:40], targets[:40], "fed")


def test_keep_removes_components_the_classifier_rejects():
    uncertainty, labels = two_components()
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("drivable_ring")] = 5.0
    classifier = MetaClassifier("fed", FEATURES, (0.5,) * len(FEATURES), (1.0,) * len(FEATURES),
                                tuple(weights), 0.0)
    kept = classifier.keep(uncertainty, labels, 0.5)
    assert kept[25:35, 30:40].all() and not kept[:20].any()
    assert not classifier.keep(np.zeros_like(uncertainty), labels, 0.5).any()


def test_load_refuses_other_files_with_one_clear_reason(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"format_version": 1, "score": "fed"}))
    with pytest.raises(CheckpointError, match=r"of format 1; this version reads format 2.*refit"):
        MetaClassifier.load(path)
    for text in ("[1, 2]", "{}", json.dumps({"format_version": 2, "score": "fed"})):
        path.write_text(text)
        with pytest.raises(CheckpointError, match="not a meta classifier file"):
            MetaClassifier.load(path)
    with pytest.raises(CheckpointError, match="not a meta classifier file"):
        MetaClassifier.load(tmp_path / "missing.json")


def test_training_rows_call_a_component_real_when_half_its_valid_pixels_are_anomalous():
    from flowenedet_core.cli.fit_meta import training_rows
    from flowenedet_core.evaluation.evaluator import KeptFrame

    uncertainty, labels = two_components()
    truth = np.zeros((40, 80), np.uint8)
    truth[25:35, 30:36] = 1  # 60 % of the square
    truth[2:4, 0:12] = 255  # most of the bar is void: its 8 valid pixels are not anomalous
    frame = KeptFrame(truth, {"fed": uncertainty.astype(np.float16)}, (1, 1), labels)
    rows, targets = training_rows([frame], "fed", 0.5)
    assert rows.shape == (2, len(FEATURES))
    square = int(np.argmax(rows[:, FEATURES.index("peak_over_threshold")]))
    assert targets[square] == 1 and targets[1 - square] == 0
