import cv2
import numpy as np
import pytest

from flowenedet_core.metrics.components import (
    SIOU_THRESHOLDS,
    ComponentAccumulator,
    frame_components,
    scaled_sizes,
)

NO_LIMITS = (1, 1)


def blank(height: int = 12, width: int = 12) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((height, width), bool), np.zeros((height, width), np.uint8)


def test_a_prediction_covering_half_an_object_has_siou_one_half_and_full_ppv():
    predicted, label = blank()
    label[0:4, 0:4] = 1  # 16 pixels
    predicted[0:4, 0:2] = True  # 8 of them
    sious, ppvs = frame_components(predicted, label, NO_LIMITS)
    assert sious.tolist() == [0.5] and ppvs.tolist() == [1.0]


def test_a_prediction_spanning_two_objects_is_not_punished_for_the_other_one():
    predicted, label = blank()
    label[0:2, 0:2] = 1  # A, 4 pixels
    label[0:2, 4:6] = 1  # B, 4 pixels
    predicted[0:2, 0:6] = True  # one component of 12 pixels over both
    sious, ppvs = frame_components(predicted, label, NO_LIMITS)
    # |A ∩ K̂| = 4; |K̂| + |A| - 4 - |K̂ ∩ B| = 12 + 4 - 4 - 4 = 8
    assert sious.tolist() == [0.5, 0.5]
    assert ppvs.tolist() == pytest.approx([8 / 12])


def test_a_missed_object_and_a_false_alarm():
    predicted, label = blank()
    label[0:3, 0:3] = 1
    predicted[8:10, 8:10] = True
    sious, ppvs = frame_components(predicted, label, NO_LIMITS)
    assert sious.tolist() == [0.0] and ppvs.tolist() == [0.0]


def test_void_pixels_and_small_components_are_left_out():
    predicted, label = blank()
    label[0:4, 0:4] = 1  # 16 pixels: kept
    label[8, 8] = 1  # 1 pixel: below min_truth 2, becomes void
    label[0:4, 6:8] = 255
    predicted[0:4, 0:2] = True  # 8 pixels on the object
    predicted[0:4, 6:8] = True  # on void: removed
    predicted[8, 8] = True  # on the voided object: its pixels are not counted
    predicted[11, 0] = True  # 1 pixel: below min_prediction 2, dropped
    sious, ppvs = frame_components(predicted, label, (2, 2))
    assert sious.tolist() == [0.5] and ppvs.tolist() == [1.0]


def test_mean_f1_pools_frames_and_averages_the_eleven_thresholds():
    predicted, label = blank()
    label[0:2, 0:2] = 1
    label[0:2, 4:6] = 1
    predicted[0:2, 0:6] = True  # sIoU 0.5, 0.5; PPV 2/3
    accumulator = ComponentAccumulator()
    accumulator.update(predicted, label, NO_LIMITS)
    metrics = accumulator.compute(0.3)
    # t <= 0.5 (6 thresholds): TP 2, FN 0, FP 0 -> F1 1; t > 0.5: TP 0 -> F1 0
    assert metrics.mean_f1 == pytest.approx(100 * 6 / 11)
    assert metrics.f1 == pytest.approx({"0.25": 100.0, "0.50": 100.0, "0.75": 0.0})
    assert metrics.siou == pytest.approx(50.0) and metrics.ppv == pytest.approx(200 / 3)
    assert (metrics.truth_components, metrics.predicted_components) == (2, 1)
    assert len(SIOU_THRESHOLDS) == 11


def naive(predicted: np.ndarray, label: np.ndarray) -> tuple[list[float], list[float]]:
    """The definitions, set by set (no size limits)."""
    _, truth = cv2.connectedComponents((label == 1).astype(np.uint8), connectivity=8)
    _, pred = cv2.connectedComponents((predicted & (label != 255)).astype(np.uint8),
                                      connectivity=8)
    valid = label != 255
    sious = []
    for k in range(1, truth.max() + 1):
        object_k = (truth == k) & valid
        touching = set(np.unique(pred[object_k])) - {0}
        union_pred = np.isin(pred, list(touching)) & valid
        others = (truth > 0) & (truth != k) & union_pred
        sious.append((object_k & union_pred).sum() / ((object_k | union_pred) & ~others).sum())
    ppvs = [((pred == j) & (truth > 0) & valid).sum() / ((pred == j) & valid).sum()
            for j in range(1, pred.max() + 1)]
    return sious, ppvs


@pytest.mark.parametrize("seed", range(5))
def test_random_blobs_match_the_definitions(seed):
    rng = np.random.default_rng(seed)
    label = (cv2.GaussianBlur(rng.random((40, 60)), (0, 0), 2) > 0.55).astype(np.uint8)
    label[rng.random((40, 60)) < 0.05] = 255
    predicted = cv2.GaussianBlur(rng.random((40, 60)), (0, 0), 2) > 0.52
    sious, ppvs = frame_components(predicted, label, NO_LIMITS)
    expected_sious, expected_ppvs = naive(predicted, label)
    assert sious == pytest.approx(expected_sious)
    assert ppvs == pytest.approx(expected_ppvs)


def test_size_limits_scale_with_the_pixel_count():
    assert scaled_sizes((500, 100), 2048 * 1024, 1024 * 512) == (125, 25)
