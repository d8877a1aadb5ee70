import pytest
import torch

from flowenedet_core.postprocess import (
    gaussian_kernel,
    gaussian_smooth,
    prediction_boundaries,
    suppress_boundaries,
)


def two_regions() -> torch.Tensor:
    prediction = torch.zeros(1, 40, 40, dtype=torch.long)
    prediction[:, :, 20:] = 1
    return prediction


def test_boundaries_mark_both_sides_of_a_class_change():
    boundaries = prediction_boundaries(two_regions())[0, 0]
    assert boundaries[:, 19].all() and boundaries[:, 20].all()
    assert not boundaries[:, :19].any() and not boundaries[:, 21:].any()


def test_boundary_peaks_are_suppressed_and_interiors_kept():
    scores = torch.zeros(1, 40, 40)
    scores[:, :, 18:22] = 1.0  # a score ridge exactly on the predicted boundary
    scores[:, 5:8, 5:8] = 1.0  # a blob inside a region: a real anomaly
    out = suppress_boundaries(scores, two_regions())
    assert out[0, 20, 19:21].max() < 0.2
    assert out[0, 6, 6] > 0.1


def test_constant_scores_stay_constant():
    scores = torch.full((1, 30, 30), 0.3)
    out = suppress_boundaries(scores, two_regions()[:, :30, :30])
    assert torch.allclose(out, scores, atol=1e-6)


def test_gaussian_smoothing_keeps_a_constant_map_constant():
    scores = torch.full((2, 20, 30), 0.7)
    assert torch.allclose(gaussian_smooth(scores), scores, atol=1e-6)


def test_gaussian_smoothing_of_a_delta_is_the_normalised_kernel():
    scores = torch.zeros(1, 21, 21)
    scores[0, 10, 10] = 1.0
    smoothed = gaussian_smooth(scores)
    kernel = gaussian_kernel(7, 1.0)[0, 0]
    assert torch.allclose(smoothed[0, 7:14, 7:14], kernel, atol=1e-7)
    assert abs(float(kernel.sum()) - 1) < 1e-6 and float(smoothed.sum()) == pytest.approx(1)
    assert smoothed[0, :7].abs().max() == 0  # no dilation: nothing beyond the 7x7 support
