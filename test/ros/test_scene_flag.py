import numpy as np
import pytest

from flowenedet_ros.errors import ParameterError
from flowenedet_ros.scene_flag import (
    REASON_CLEAR,
    REASON_ERROR,
    REASON_STALE,
    REASON_STARTING,
    REASON_UNCERTAIN,
    FlagConfig,
    SceneFlag,
    uncertain_fraction,
)

CERTAIN = np.zeros((10, 20), np.float32)
UNCERTAIN = np.ones((10, 20), np.float32)


def run(flag: SceneFlag, frames, start: float = 0.0):
    return [flag.update(frame, start + 0.1 * (i + 1)).raised for i, frame in enumerate(frames)]


def test_flag_rises_after_raise_frames_and_clears_after_clear_frames():
    flag = SceneFlag(FlagConfig(raise_frames=3, clear_frames=2), now=0.0)
    raised = run(flag, [UNCERTAIN] * 4 + [CERTAIN] * 3)
    assert raised == [False, False, True, True, True, False, False]


def test_an_interrupted_streak_starts_over():
    flag = SceneFlag(FlagConfig(raise_frames=3, clear_frames=1), now=0.0)
    assert run(flag, [UNCERTAIN, UNCERTAIN, CERTAIN, UNCERTAIN, UNCERTAIN, UNCERTAIN]) == [
        False, False, False, False, False, True]


def test_flag_is_raised_before_the_first_frame_and_says_why():
    state = SceneFlag(FlagConfig(), now=0.0).state(0.5)
    assert state.raised and state.reason == REASON_STARTING


def test_stale_input_raises_the_flag_whatever_the_hysteresis():
    flag = SceneFlag(FlagConfig(stale_timeout_s=1.0), now=0.0)
    flag.update(CERTAIN, 0.1)
    assert flag.state(1.0).reason == REASON_CLEAR
    state = flag.state(1.2)
    assert state.raised and state.reason == REASON_STALE


def test_an_inference_error_raises_the_flag_until_a_frame_is_served():
    flag = SceneFlag(FlagConfig(raise_frames=1, clear_frames=1), now=0.0)
    flag.update(CERTAIN, 0.1)
    assert flag.fail("boom", 0.2).reason == REASON_ERROR
    state = flag.update(CERTAIN, 0.3)
    assert not state.raised and state.reason == REASON_CLEAR


def test_roi_restricts_the_counted_pixels():
    uncertainty = np.zeros((10, 20), np.float32)
    uncertainty[:5] = 1.0  # the upper half (sky) is uncertain
    lower_half = FlagConfig(roi=(0.0, 0.5, 1.0, 1.0))
    assert uncertain_fraction(uncertainty, FlagConfig()) == pytest.approx(0.5)
    assert uncertain_fraction(uncertainty, lower_half) == 0.0
    flag = SceneFlag(FlagConfig(raise_frames=1, roi=(0.0, 0.5, 1.0, 1.0)), now=0.0)
    assert not flag.update(uncertainty, 0.1).raised


def test_thresholds_decide_which_frames_count():
    uncertainty = np.full((10, 10), 0.6, np.float32)
    uncertainty[0, :4] = 0.9  # 4 % of pixels above 0.8
    assert uncertain_fraction(uncertainty, FlagConfig(pixel_threshold=0.8)) == 0.04
    flag = SceneFlag(FlagConfig(pixel_threshold=0.8, scene_threshold=0.05, raise_frames=1), 0.0)
    assert flag.update(uncertainty, 0.1).reason == REASON_CLEAR
    flag.reconfigure(scene_threshold=0.03)
    assert flag.update(uncertainty, 0.2).reason == REASON_UNCERTAIN


@pytest.mark.parametrize(("changes", "message"), [
    ({"pixel_threshold": 1.5}, "pixel_threshold must be in"),
    ({"raise_frames": 0}, "raise_frames must be >= 1"),
    ({"roi": (0.5, 0.0, 0.4, 1.0)}, "0 <= x0 < x1 <= 1"),
    ({"roi": (0.0, 0.0, 1.0)}, "roi must be"),
    ({"stale_timeout_s": 0.0}, "stale_timeout_s must be > 0"),
])
def test_invalid_settings_are_rejected_and_the_old_ones_kept(changes, message):
    flag = SceneFlag(FlagConfig(), now=0.0)
    with pytest.raises(ParameterError, match=message):
        flag.reconfigure(**changes)
    assert flag.config == FlagConfig()
