import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from flowenedet_core.metrics.ranking import RankingAccumulator, sortable_keys


def exact_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    fpr, tpr, _ = roc_curve(labels, scores)
    return {"ap": 100 * average_precision_score(labels, scores),
            "auroc": 100 * roc_auc_score(labels, scores),
            "fpr95": 100 * float(fpr[np.searchsorted(tpr, 0.95)])}


def streamed(scores: np.ndarray, labels: np.ndarray, chunks: int = 4, bits: int = 20):
    accumulator = RankingAccumulator(bits)
    for score_part, label_part in zip(np.array_split(scores, chunks),
                                      np.array_split(labels, chunks), strict=True):
        accumulator.update(score_part, label_part)
    return accumulator.compute()


def random_maps(seed: int, size: int = 200_000, positive_rate: float = 0.05):
    rng = np.random.default_rng(seed)
    labels = rng.random(size) < positive_rate
    scores = rng.normal(size=size) + 1.2 * labels
    return scores.astype(np.float32), labels


def test_sortable_keys_preserve_order_across_signs_and_magnitudes():
    values = np.array([-1e30, -5.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 3e4], dtype=np.float32)
    assert np.all(np.diff(sortable_keys(values, 32)) > 0)
    assert np.all(np.diff(sortable_keys(values, 20)) >= 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_metrics_match_exact_within_a_tenth_of_a_point(seed):
    scores, labels = random_maps(seed)
    exact, binned = exact_metrics(scores, labels), streamed(scores, labels)
    for key in ("ap", "auroc", "fpr95"):
        assert abs(getattr(binned, key) - exact[key]) < 0.1, key


@pytest.mark.parametrize("bits", [12, 16, 20])
def test_reported_error_bound_contains_exact_value(bits):
    scores, labels = random_maps(7, size=100_000, positive_rate=0.2)
    exact, binned = exact_metrics(scores, labels), streamed(scores, labels, bits=bits)
    assert abs(binned.ap - exact["ap"]) <= binned.ap_bound + 1e-9
    assert abs(binned.auroc - exact["auroc"]) <= binned.auroc_bound + 1e-9
    assert abs(binned.fpr95 - exact["fpr95"]) <= binned.fpr95_bound + 1e-9


def test_coarse_bins_report_a_larger_bound():
    scores, labels = random_maps(3)
    assert streamed(scores, labels, bits=12).ap_bound > streamed(scores, labels, bits=20).ap_bound


def test_tied_scores_match_sklearn_tie_handling_exactly():
    rng = np.random.default_rng(5)
    labels = rng.random(50_000) < 0.1
    scores = np.round(rng.random(50_000) + 0.3 * labels, 1).astype(np.float32)
    exact, binned = exact_metrics(scores, labels), streamed(scores, labels)
    assert binned.ap == pytest.approx(exact["ap"], abs=1e-9)
    assert binned.auroc == pytest.approx(exact["auroc"], abs=1e-9)


def test_valid_mask_drops_void_pixels():
    scores, labels = random_maps(4, size=10_000)
    valid = np.random.default_rng(0).random(10_000) < 0.7
    accumulator = RankingAccumulator()
    accumulator.update(scores, labels, valid)
    assert accumulator.compute().positives + accumulator.compute().negatives == valid.sum()


def test_compute_without_positives_raises():
    accumulator = RankingAccumulator()
    accumulator.update(np.ones(10, dtype=np.float32), np.zeros(10, dtype=bool))
    with pytest.raises(ValueError, match="need positives and negatives"):
        accumulator.compute()


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        RankingAccumulator().update(np.array([np.nan, 1.0]), np.array([True, False]))


def test_best_f1_threshold_is_the_brute_force_best_pixel_threshold():
    rng = np.random.default_rng(3)
    positive = rng.random(5000) < 0.2
    scores = (rng.normal(size=5000) + 1.5 * positive).astype(np.float32)
    accumulator = RankingAccumulator()
    accumulator.update(scores, positive)
    threshold = accumulator.best_f1_threshold()

    def f1(t: float) -> float:
        predicted = scores > t
        return 2 * (predicted & positive).sum() / (predicted.sum() + positive.sum())

    best = max(f1(t) for t in np.concatenate([[-np.inf], np.unique(scores)]))
    assert f1(threshold) == pytest.approx(best, abs=2e-3)
