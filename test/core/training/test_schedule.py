import pytest

from flowenedet_core.training.schedule import WARMUP_START_LR, StepSchedule


def test_schedule_warms_up_linearly_then_decays_tenfold():
    schedule = StepSchedule(base_lr=1e-3, total_iters=50_000)
    assert schedule.warmup_iters == 4000 and schedule.decay_every == 15_000
    assert schedule.lr(0) == pytest.approx(WARMUP_START_LR)
    assert schedule.lr(2000) == pytest.approx((WARMUP_START_LR + 1e-3) / 2)
    assert schedule.lr(4000) == pytest.approx(1e-3)
    assert schedule.lr(15_000) == pytest.approx(1e-4)
    assert schedule.lr(45_000) == pytest.approx(1e-6)
