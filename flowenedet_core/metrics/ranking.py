"""AUROC, AP and FPR95 over any number of pixels without holding them: streaming histograms.

Scores are binned by the top `bits` bits of an order-preserving integer key of their float32
value (sign, 8 exponent bits, `bits - 9` mantissa bits). The bins are therefore log-spaced over
the whole float range: no score range has to be known in advance, and the relative bin width is
2^-(bits - 9) (0.05 % at the default 20 bits). Pixels that share a bin are treated as tied.

Error bound. Only the order of a positive and a negative inside the same bin is unknown, so the
exact metrics of the unbinned scores lie in intervals computable from the histograms alone:
- AUROC: within-bin pairs count 1/2, exactly they count 0 or 1 -> |err| <= sum_b p_b n_b / (2PN).
- AP: bin b's contribution p_b/P * precision lies between the precision with its negatives ranked
  first and with its positives ranked first.
- FPR95: the exact threshold lies inside the bin where TPR crosses 95 % -> |err| <= n_b / N.
`RankingMetrics` carries these bounds, and the tests check them against an exact computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_BITS = 20


@dataclass(frozen=True)
class RankingMetrics:
    """Pixel-level detection metrics in percent, with the binning error bound of each."""

    ap: float
    auroc: float
    fpr95: float
    ap_bound: float
    auroc_bound: float
    fpr95_bound: float
    positives: int
    negatives: int

    def as_dict(self) -> dict[str, float]:
        return {"ap": self.ap, "auroc": self.auroc, "fpr95": self.fpr95}


def sortable_keys(scores: np.ndarray, bits: int = DEFAULT_BITS) -> np.ndarray:
    """float scores -> int64 bin indices in [0, 2^bits) whose order matches the scores' order."""
    raw = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32)
    negative = (raw >> 31).astype(bool)
    keys = np.where(negative, ~raw, raw | np.uint32(0x80000000))
    return (keys >> np.uint32(32 - bits)).astype(np.int64)


def bin_lower_edge(key: int, bits: int = DEFAULT_BITS) -> np.float32:
    """The smallest float32 score of bin `key` (the inverse of `sortable_keys`)."""
    full = np.uint32(key << (32 - bits))
    raw = full & np.uint32(0x7FFFFFFF) if full & np.uint32(0x80000000) else ~full
    return np.asarray(raw, np.uint32).view(np.float32)[()]


class RankingAccumulator:
    """Per-class score histograms; `update` per frame, `compute` at the end."""

    def __init__(self, bits: int = DEFAULT_BITS) -> None:
        if not 10 <= bits <= 24:
            raise ValueError(f"bits must be in [10, 24], got {bits}")
        self.bits = bits
        self.positive = np.zeros(1 << bits, dtype=np.int64)
        self.negative = np.zeros(1 << bits, dtype=np.int64)

    def update(self, scores: np.ndarray, is_positive: np.ndarray,
               valid: np.ndarray | None = None) -> None:
        """Add pixels: `scores` (higher = more likely positive), boolean `is_positive`, `valid`."""
        scores = np.asarray(scores).reshape(-1)
        is_positive = np.asarray(is_positive, dtype=bool).reshape(-1)
        if scores.shape != is_positive.shape:
            raise ValueError(f"scores {scores.shape} and labels {is_positive.shape} differ in size")
        if valid is not None:
            valid = np.asarray(valid, dtype=bool).reshape(-1)
            scores, is_positive = scores[valid], is_positive[valid]
        if np.isnan(scores).any():
            raise ValueError("scores contain NaN")
        keys = sortable_keys(scores, self.bits)
        size = 1 << self.bits
        self.positive += np.bincount(keys[is_positive], minlength=size)
        self.negative += np.bincount(keys[~is_positive], minlength=size)

    def _occupied(self) -> np.ndarray:
        return np.flatnonzero((self.positive + self.negative) > 0)[::-1]

    def _descending(self) -> tuple[np.ndarray, np.ndarray]:
        occupied = self._occupied()
        positive, negative = self.positive[occupied], self.negative[occupied]
        return positive.astype(np.float64), negative.astype(np.float64)

    def best_f1_threshold(self) -> float:
        """The score t at which `score > t` has the best pixel F1 (SegmentMeIfYouCan's
        threshold for its component metrics): just below the lower edge of the best bin."""
        pos, neg = self._descending()
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        best = int(np.argmax(2 * tp / (tp + fp + tp[-1])))
        return float(np.nextafter(bin_lower_edge(int(self._occupied()[best]), self.bits),
                                  np.float32(-np.inf)))

    def curves(self) -> dict[str, np.ndarray]:
        """ROC (fpr, tpr) and PR (recall, precision) at every occupied bin, high score first."""
        pos, neg = self._descending()
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        total_pos, total_neg = max(tp[-1], 1.0), max(fp[-1], 1.0)
        return {"fpr": np.concatenate([[0.0], fp / total_neg]),
                "tpr": np.concatenate([[0.0], tp / total_pos]),
                "recall": tp / total_pos, "precision": tp / np.maximum(tp + fp, 1.0)}

    def compute(self) -> RankingMetrics:
        pos, neg = self._descending()
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            raise ValueError(f"need positives and negatives, got {int(total_pos)} positive "
                             f"and {int(total_neg)} negative pixels")
        tp, fp = np.cumsum(pos), np.cumsum(neg)
        tp_prev, fp_prev = tp - pos, fp - neg

        auroc = float(np.sum(neg * (tp_prev + pos / 2))) / (total_pos * total_neg)
        auroc_bound = float(np.sum(pos * neg)) / (2 * total_pos * total_neg)

        has_pos = pos > 0
        ap = float(np.sum(pos[has_pos] * tp[has_pos] / (tp[has_pos] + fp[has_pos]))) / total_pos
        best = pos * (tp_prev + pos) / np.maximum(tp_prev + fp_prev + pos, 1.0)
        worst = pos * (tp_prev + 1) / (tp_prev + fp_prev + neg + 1)
        ap_bound = float(np.sum((best - worst)[has_pos])) / total_pos

        crossing = int(np.searchsorted(tp / total_pos, 0.95 - 1e-12))
        fpr95 = float(fp[crossing]) / total_neg
        fpr95_bound = float(neg[crossing]) / total_neg
        return RankingMetrics(ap=100 * ap, auroc=100 * auroc, fpr95=100 * fpr95,
                              ap_bound=100 * ap_bound, auroc_bound=100 * auroc_bound,
                              fpr95_bound=100 * fpr95_bound,
                              positives=int(total_pos), negatives=int(total_neg))
