import numpy as np
import pytest

from flowenedet_core.metrics.meta_classifier import (
    FEATURES,
    MetaClassifier,
    component_features,
    fit_logistic,
    label_components,
)
from flowenedet_ros.anomaly_components import ComponentConfig, find_components
from flowenedet_ros.errors import ParameterError
from flowenedet_ros.frame_reason import (
    NONE,
    OBJECT,
    OBJECT_AND_SCENE,
    SCENE,
    ReasonConfig,
    frame_reason,
)
from flowenedet_ros.image_evidence import EvidenceConfig

CONFIG = ReasonConfig(ComponentConfig(min_area=0.001, max_width=0.6, min_fill=0.3),
                      scene_fraction=0.2, scene_mean=0.5,
                      evidence=EvidenceConfig(min_contrast=0.05))


def camera() -> np.ndarray:
    """A textured, well-exposed camera frame (the image evidence finds nothing wrong)."""
    rng = np.random.default_rng(0)
    return (rng.random((120, 240, 3)) * 200 + 20).astype(np.uint8)


def street() -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros((60, 120), np.uint8)
    labels[:30] = 2  # buildings above, road below
    return np.full((60, 120), 0.05, np.float32), labels


def with_object(uncertainty: np.ndarray) -> np.ndarray:
    uncertainty[42:48, 45:54] = 0.9
    return uncertainty


def test_a_clean_frame_has_no_reason():
    assert frame_reason(camera(), *street(), CONFIG).reason == NONE


def test_a_compact_region_on_the_road_is_an_object():
    uncertainty, labels = street()
    judged = frame_reason(camera(), with_object(uncertainty), labels, CONFIG)
    assert judged.reason == OBJECT and len(judged.components.components) == 1


def test_a_near_object_filling_a_third_of_the_frame_is_an_object_whatever_its_size():
    uncertainty, labels = street()
    uncertainty[20:60, 30:90] = 0.9  # 33 % of the frame, half its width, road below and beside
    labels[20:30] = 0  # the road reaches up to its top (a near object hides the horizon)
    judged = frame_reason(camera(), uncertainty, labels, CONFIG)
    (component,) = judged.components.components
    assert judged.reason == OBJECT
    assert component.area / judged.components.frame_pixels == pytest.approx(1 / 3)


def test_uncertainty_from_side_to_side_is_not_bounded_and_reads_scene():
    uncertainty, labels = street()
    uncertainty[36:60, :] = 0.9  # 40 % of the frame, the whole road, edge to edge
    judged = frame_reason(camera(), uncertainty, labels, CONFIG)
    assert judged.components.components == () and judged.reason == SCENE


def test_scattered_uncertainty_does_not_fill_its_box_and_is_no_object():
    uncertainty, labels = street()
    uncertainty[36:60, 30:60] = 0.9
    uncertainty[37:59, 31:59] = 0.05  # a hollow outline: one thin region, 14 % of its box
    assert find_components(uncertainty, labels, ComponentConfig(min_area=0.001)).components
    assert frame_reason(camera(), uncertainty, labels, CONFIG).components.components == ()


def test_a_component_fading_into_its_surroundings_fails_the_border_contrast():
    uncertainty, labels = street()
    uncertainty[40:50, 40:60] = 0.55  # just above the pixel threshold, its border at 0.49
    uncertainty[39, 39:61] = uncertainty[50, 39:61] = 0.49
    uncertainty[39:51, 39] = uncertainty[39:51, 60] = 0.49
    loose = find_components(uncertainty, labels, ComponentConfig(min_area=0.001))
    strict = find_components(uncertainty, labels, ComponentConfig(min_area=0.001,
                                                                  min_border_contrast=0.2))
    assert len(loose.components) == 1 and strict.components == ()
    assert loose.components[0].border_contrast == pytest.approx(0.06, abs=1e-6)


def test_uncertainty_spread_over_the_frame_without_image_evidence_is_the_scene():
    uncertainty, labels = street()
    uncertainty[:18] = 0.9  # 30 % of the frame, above the road: not an object
    judged = frame_reason(camera(), uncertainty, labels, CONFIG)
    assert judged.reason == SCENE and judged.degraded_by == ()


def test_a_degraded_image_is_the_scene_even_when_the_model_is_confident():
    foggy = np.full((120, 240, 3), 180, np.uint8)  # flat grey: no contrast at all
    judged = frame_reason(foggy, *street(), CONFIG)
    assert judged.reason == SCENE and judged.degraded_by == ("contrast",)


def test_an_object_in_a_degraded_image_is_both():
    uncertainty, labels = street()
    foggy = np.full((120, 240, 3), 180, np.uint8)
    assert frame_reason(foggy, with_object(uncertainty), labels, CONFIG).reason == \
        OBJECT_AND_SCENE


def test_a_shifted_frame_mean_is_the_scene_even_without_uncertain_pixels():
    uncertainty, labels = street()
    uncertainty[:] = 0.49  # below pixel_threshold everywhere, mean above scene_mean 0.45
    assert frame_reason(camera(), uncertainty, labels, ReasonConfig(scene_mean=0.45)).reason \
        == SCENE
    assert frame_reason(camera(), uncertainty, labels, ReasonConfig(scene_mean=0.5)).reason \
        == NONE


def test_the_object_pixels_do_not_count_towards_the_scene():
    uncertainty, labels = street()
    uncertainty[33:60, 0:24] = 0.9  # 9 % of the frame, one component on the road
    tight = ReasonConfig(CONFIG.components, scene_fraction=0.05, scene_mean=1.0)
    assert frame_reason(camera(), uncertainty, labels, tight).reason == OBJECT


def _classifier(weight: float, bias: float = 0.0) -> MetaClassifier:
    """A logistic regression on the peak uncertainty alone (the others weigh nothing), centred
    0.3 above the pixel threshold 0.5."""
    weights = tuple(weight if name == "peak_over_threshold" else 0.0 for name in FEATURES)
    return MetaClassifier("msp", FEATURES, (0.3,) * len(FEATURES), (0.1,) * len(FEATURES),
                          weights, bias)


def test_the_meta_classifier_decides_the_object_too():
    uncertainty, labels = street()
    with_object(uncertainty)
    uncertainty[42:48, 90:99] = 0.6  # a second region, less uncertain
    plain = frame_reason(camera(), uncertainty, labels, CONFIG)
    kept = frame_reason(camera(), uncertainty, labels, CONFIG, _classifier(5.0))
    refused = frame_reason(camera(), uncertainty, labels, CONFIG, _classifier(5.0, -20.0))
    assert len(plain.components.components) == 2
    assert [c.max_uncertainty for c in kept.components.components] == [pytest.approx(0.9)]
    assert kept.reason == OBJECT and refused.reason == NONE
    assert refused.components.spread_fraction == pytest.approx(
        plain.components.uncertain_pixels / plain.components.frame_pixels)


def test_scene_thresholds_are_validated():
    with pytest.raises(ParameterError, match="reason_scene_fraction must be in"):
        ReasonConfig(scene_fraction=-0.1)


def test_a_fitted_meta_classifier_keeps_the_objects_and_drops_the_look_alikes():
    """A tiny classifier fitted by fit_logistic on components of hand-built maps (objects: very
    uncertain and compact; look-alikes: barely uncertain, thin), then used by the rule."""
    rows, targets = [], []
    for offset in range(6):
        uncertainty, labels = street()
        uncertainty[40:48, 10 + offset:20 + offset] = 0.95  # an object
        uncertainty[50, 60 + offset:90 + offset] = 0.55  # a thin look-alike
        regions, stats = label_components(uncertainty > 0.5)
        ids = np.arange(1, len(stats))
        rows.append(component_features(regions, stats, ids, uncertainty, labels, 0.5))
        targets += [float(stats[i, 4] == 80) for i in ids]
    classifier = fit_logistic(np.vstack(rows), np.asarray(targets), "msp")
    uncertainty, labels = street()
    uncertainty[40:48, 40:50] = 0.95
    uncertainty[52, 20:50] = 0.55
    plain = frame_reason(camera(), uncertainty, labels, ReasonConfig(ComponentConfig(
        min_area=0.001)))
    judged = frame_reason(camera(), uncertainty, labels, ReasonConfig(ComponentConfig(
        min_area=0.001)), classifier)
    assert sorted(c.area for c in plain.components.components) == [30, 80]
    assert [c.area for c in judged.components.components] == [80]
    assert judged.reason == OBJECT
