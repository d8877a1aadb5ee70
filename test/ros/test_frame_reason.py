import numpy as np
import pytest

from flowenedet_ros.anomaly_components import ComponentConfig
from flowenedet_ros.errors import ParameterError
from flowenedet_ros.frame_reason import (
    INPUT,
    NONE,
    OBJECT,
    OBJECT_AND_SCENE,
    SCENE,
    ReasonConfig,
    frame_reason,
    reason_of,
)

CONFIG = ReasonConfig(ComponentConfig(min_area=0.001, max_area=0.1), scene_fraction=0.2,
                      scene_mean=0.5)


def street() -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros((40, 80), np.uint8)
    labels[:20] = 2  # buildings above, road below
    return np.full((40, 80), 0.05, np.float32), labels


def with_object(uncertainty: np.ndarray) -> np.ndarray:
    uncertainty[28:32, 30:36] = 0.9
    return uncertainty


def test_a_clean_frame_has_no_reason():
    assert frame_reason(*street(), CONFIG)[0] == NONE


def test_a_compact_region_on_the_road_is_an_object():
    uncertainty, labels = street()
    reason, components = frame_reason(with_object(uncertainty), labels, CONFIG)
    assert reason == OBJECT and len(components.components) == 1


def test_uncertainty_spread_over_the_frame_is_the_scene():
    uncertainty, labels = street()
    uncertainty[:12] = 0.9  # 30 % of the frame, above the road: not an object
    assert frame_reason(uncertainty, labels, CONFIG)[0] == SCENE


def test_a_shifted_frame_mean_is_the_scene_even_without_uncertain_pixels():
    uncertainty, labels = street()
    uncertainty[:] = 0.49  # below pixel_threshold everywhere, mean above scene_mean 0.45
    assert frame_reason(uncertainty, labels, ReasonConfig(scene_mean=0.45))[0] == SCENE
    assert frame_reason(uncertainty, labels, ReasonConfig(scene_mean=0.5))[0] == NONE


def test_an_object_in_a_degraded_scene_is_both():
    uncertainty, labels = street()
    uncertainty[:12] = 0.9
    assert frame_reason(with_object(uncertainty), labels, CONFIG)[0] == OBJECT_AND_SCENE


def test_the_object_pixels_do_not_count_towards_the_scene():
    uncertainty, labels = street()
    uncertainty[22:40, 0:16] = 0.9  # 9 % of the frame, one component on the road
    tight = ReasonConfig(CONFIG.components, scene_fraction=0.05, scene_mean=1.0)
    assert frame_reason(uncertainty, labels, tight)[0] == OBJECT


def test_a_frame_that_failed_or_never_came_is_input():
    assert reason_of(None, CONFIG) == INPUT


def test_scene_thresholds_are_validated():
    with pytest.raises(ParameterError, match="reason_scene_fraction must be in"):
        ReasonConfig(scene_fraction=-0.1)
