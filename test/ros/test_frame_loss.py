"""Frames that never arrived, from gaps in the camera's header stamps."""

from __future__ import annotations

import math

import pytest

from flowenedet_ros.frame_loss import FrameLoss, FrameLossEstimator, loss_warning


def feed(estimator: FrameLossEstimator, stamps) -> FrameLoss:
    for stamp in stamps:
        estimator.update(stamp)
    return estimator.snapshot()


def test_a_steady_camera_loses_nothing():
    loss = feed(FrameLossEstimator(), [100 + 0.1 * i for i in range(50)])
    assert loss.lost == 0 and loss.received == 50 and loss.period_s == pytest.approx(0.1)


def test_leaving_out_every_third_frame_is_a_third_lost():
    stamps = [100 + 0.1 * i for i in range(300) if i % 3 != 2]
    loss = feed(FrameLossEstimator(), stamps)
    assert loss.period_s == pytest.approx(0.1)  # a median of these deltas would read 0.15
    assert 97 <= loss.lost <= 99  # the first deltas only estimate the period
    assert loss.share == pytest.approx(1 / 3, abs=0.01)


def test_a_gap_of_k_periods_is_k_minus_one_frames_and_jitter_is_none():
    estimator = FrameLossEstimator()
    feed(estimator, [10.0, 10.11, 10.19, 10.31, 10.4, 10.52])
    assert estimator.update(10.52 + 4 * 0.1) == 3
    assert estimator.update(10.92 + 0.13) == 0


def test_gaps_before_the_period_is_known_are_judged_once_it_is():
    estimator = FrameLossEstimator()
    assert [estimator.update(stamp) for stamp in (10.0, 10.3, 10.4, 10.5)] == [0, 0, 0, 0]
    assert estimator.update(10.6) == 2  # the first gap, of three periods


def test_a_pause_and_a_restarted_sequence_are_not_loss():
    estimator = FrameLossEstimator()
    feed(estimator, [100 + 0.1 * i for i in range(10)])
    assert estimator.update(120.0) == 0  # 20 s without frames: a pause, the stale flag's business
    assert estimator.update(3.0) == 0  # stamps went back: a new sequence
    assert math.isnan(estimator.period_s())
    assert estimator.update(3.0) == 0  # a repeated stamp (an unstamped publisher)
    assert estimator.snapshot().lost == 0


def test_the_warning_names_cause_and_remedy_only_when_the_loss_is_high():
    assert loss_warning(FrameLoss(95, 4, 0.1), "/cam", "best_effort") is None
    assert loss_warning(FrameLoss(5, 5, 0.1), "/cam", "best_effort") is None  # too few to judge
    warning = loss_warning(FrameLoss(85, 15, 0.1), "/cam", "best_effort")
    assert warning.startswith("15 of 100 frames on /cam never arrived (15 %")
    for remedy in ("qos_reliability:=reliable", "shared-memory", "net.core.rmem_max"):
        assert remedy in warning
    assert "qos_reliability" not in loss_warning(FrameLoss(85, 15, 0.1), "/cam", "reliable")


def test_a_frame_whose_stamp_cannot_be_read_is_received_not_lost():
    estimator = FrameLossEstimator()
    feed(estimator, [100 + 0.1 * i for i in range(10)])
    estimator.update_unstamped()  # the frame of 101.0, undecodable
    assert estimator.update(101.1) == 0
    assert estimator.update(101.4) == 2
    assert estimator.snapshot() == FrameLoss(13, 2, pytest.approx(0.1))
