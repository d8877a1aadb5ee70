import cv2
import numpy as np
import pytest
from camera_frames import blurred, dark, foggy, noisy, overexposed, street_scene

from flowenedet_ros.image_evidence import (
    STATISTICS,
    TILES,
    EvidenceConfig,
    grey_frame,
    image_evidence,
)

CLEAN = image_evidence(street_scene()).values


def test_a_clean_frame_is_sharp_contrasted_exposed_and_quiet():
    assert CLEAN["sharpness"] > 0.1 and CLEAN["contrast"] > 0.1
    assert CLEAN["dark"] < 0.1 and CLEAN["saturated"] < 0.1 and CLEAN["noise"] < 0.01


def test_blur_lowers_the_sharpness_and_adds_no_noise():
    values = image_evidence(blurred(street_scene())).values
    assert values["sharpness"] < 0.2 * CLEAN["sharpness"]
    assert values["noise"] <= CLEAN["noise"] + 0.005


def test_focus_tells_blur_from_fog():
    blur = image_evidence(blurred(street_scene())).values
    fog = image_evidence(foggy(street_scene())).values
    assert blur["focus"] < 0.3 * CLEAN["focus"]  # edges gone, contrast kept
    assert fog["focus"] > 0.5 * CLEAN["focus"]  # edges and contrast scaled alike
    assert fog["sharpness"] < 0.5 * CLEAN["sharpness"]  # the absolute measure falls for both


def test_a_dark_frame_is_dark_and_not_saturated():
    values = image_evidence(dark(street_scene())).values
    assert values["dark"] > 0.9 and values["saturated"] == 0.0


def test_an_overexposed_frame_is_saturated():
    assert image_evidence(overexposed(street_scene())).values["saturated"] > 0.3


def test_noise_raises_the_median_filter_residual():
    values = image_evidence(noisy(street_scene())).values
    assert values["noise"] > 0.04 > 4 * CLEAN["noise"]


def test_fog_lowers_the_contrast():
    values = image_evidence(foggy(street_scene())).values
    assert values["contrast"] < 0.3 * CLEAN["contrast"]
    assert values["dark"] == 0.0


def test_tile_maps_locate_a_blurred_part_of_the_frame():
    image = street_scene()
    image[:, :128] = blurred(image)[:, :128]  # the left quarter: two tile columns
    maps = image_evidence(image).maps
    assert all(maps[name].shape == TILES for name in STATISTICS)
    sharpness = maps["sharpness"]
    assert sharpness[:, :2].max() < 0.3 * sharpness[:, 2:].min()


def test_large_frames_are_subsampled_keeping_their_noise():
    image = noisy(cv2.resize(street_scene(), (2048, 1024), interpolation=cv2.INTER_NEAREST))
    assert grey_frame(image).shape[1] == 512
    assert image_evidence(image).values["noise"] > 0.04


def test_degraded_names_the_statistics_past_their_thresholds():
    config = EvidenceConfig(min_sharpness=0.02, min_contrast=0.08, max_dark=0.5,
                            max_saturated=0.3, max_noise=0.03)
    assert image_evidence(street_scene()).failing(config) == ()
    assert image_evidence(blurred(street_scene())).failing(config) == ("sharpness",)
    assert "dark" in image_evidence(dark(street_scene())).failing(config)
    assert image_evidence(noisy(street_scene())).failing(config) == ("noise",)
    assert "contrast" in image_evidence(foggy(street_scene())).failing(config)
    assert not image_evidence(street_scene()).degraded(EvidenceConfig())  # off by default


def test_frames_it_cannot_judge_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="too small"):
        image_evidence(np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        image_evidence(np.zeros((64, 64, 3), np.float32))
