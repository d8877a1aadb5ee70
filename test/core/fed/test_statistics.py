import numpy as np
import pytest
import torch

from flowenedet_core.fed.statistics import SMLStatisticsAccumulator, ema_statistics, view_statistics


def test_view_statistics_match_numpy_over_predicted_and_labelled_pixels():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 4, 16, 16, generator=generator) * 3
    labels = torch.randint(0, 4, (1, 16, 16), generator=generator)
    labels[0, :2] = 255
    count, mean, variance = view_statistics(logits, labels, 3).numpy()
    max_logit, prediction = logits[:, :3].max(1)
    for c in range(3):
        values = max_logit[(prediction == c) & (labels == c)].double().numpy()
        assert count[c] == len(values)
        assert mean[c] == pytest.approx(values.mean() if len(values) else 0.0)
        assert variance[c] == pytest.approx(values.var() if len(values) else 0.0, abs=1e-9)


def test_ema_starts_from_the_first_view_then_blends_with_the_momentum():
    names = ("a", "b", "c")
    views = [torch.tensor([[10.0, 1.0, 0.0], [2.0, 5.0, 0.0], [4.0, 9.0, 0.0]]),
             torch.tensor([[10.0, 10.0, 0.0], [4.0, 7.0, 0.0], [1.0, 1.0, 0.0]])]
    stats = ema_statistics(names, views, momentum=0.1)
    # a: first view sets (2, var 4), second blends: 2 + 0.1 * (4 - 2), 4 + 0.1 * (1 - 4)
    assert stats.mean[0] == pytest.approx(2.2) and stats.std[0] == pytest.approx(np.sqrt(3.7))
    # b: the first view had one pixel (skipped, as the reference does), the second sets it
    assert stats.mean[1] == pytest.approx(7.0) and stats.std[1] == pytest.approx(1.0)
    # c: never seen -> the mean of the others
    assert stats.mean[2] == pytest.approx((2.2 + 7.0) / 2)
    assert stats.counts == (20, 11, 0)


def test_pooled_accumulator_equals_statistics_of_all_pixels_at_once():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 8, 8, generator=generator) * 2
    labels = logits.argmax(1)  # every pixel correct
    pooled = SMLStatisticsAccumulator(("a", "b", "c"))
    for index in range(2):
        pooled.update(logits[index:index + 1], labels[index:index + 1])
    result = pooled.result()
    _, mean, variance = view_statistics(logits, labels, 3).numpy()
    np.testing.assert_allclose(result.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(np.square(result.std), variance, rtol=1e-6)
