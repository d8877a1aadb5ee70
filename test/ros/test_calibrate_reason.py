import numpy as np
import pytest
from camera_frames import blurred, dark, foggy, noisy, street_scene

from flowenedet_core.errors import DataError
from flowenedet_ros.bags.calibrate_reason import SCENE_SETTINGS, FrameStatistics, choose_reason
from flowenedet_ros.bags.make_bag import BagLayout, Frame, expect_reason, write_bag
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.reason_summary import (
    EXPECTED_REASON_KEY,
    confusion_table,
    expected_reasons,
    reason_summary,
)
from flowenedet_ros.bags.replay import FrameRecord
from flowenedet_ros.image_evidence import STATISTICS, image_evidence
from flowenedet_ros.parameter_file import default_values


def frame(expected: str, candidates=(), uncertain: float = 0.01, mean: float = 0.05,
          evidence: dict | None = None) -> FrameStatistics:
    """candidates: (area, drivable border, ROI share, width share, fill, border contrast)."""
    table = np.asarray(candidates, float).reshape(-1, 6)
    return FrameStatistics(expected, table, np.ones(len(table), bool), uncertain, mean, evidence)


SPECK = (0.003, 0.9, 1.0, 0.05, 0.8, 0.4)  # small, on the road
FACADE = (0.03, 0.05, 1.0, 0.2, 0.7, 0.4)  # off the road
BESIDE = (0.02, 0.9, 0.1, 0.1, 0.7, 0.4)  # beside the ROI
SCATTERED = (0.03, 0.9, 1.0, 0.3, 0.1, 0.4)  # fills little of its box
OBJECT_AHEAD = (0.02, 0.8, 1.0, 0.1, 0.6, 0.5)
NEAR_OBJECT = (0.33, 0.6, 0.9, 0.45, 0.7, 0.5)  # a third of the frame
FOG_BAND = (0.4, 0.6, 1.0, 1.0, 0.5, 0.3)  # the whole road, side to side


def test_the_chosen_settings_separate_objects_of_any_size_scenes_and_clean_frames():
    frames = ([frame("none", [SPECK]) for _ in range(10)]
              + [frame("none", [FACADE]) for _ in range(10)]
              + [frame("none", [BESIDE]) for _ in range(10)]
              + [frame("none", [SCATTERED]) for _ in range(10)]
              + [frame("object", [OBJECT_AHEAD], uncertain=0.03) for _ in range(10)]
              + [frame("object", [NEAR_OBJECT], uncertain=0.34) for _ in range(10)]
              + [frame("scene", [FOG_BAND], uncertain=0.45, mean=0.3) for _ in range(10)])
    choice = choose_reason(frames, default_values())
    values = choice.values
    assert 0.003 < values["component_min_area"] <= 0.02
    assert 0.05 < values["component_min_drivable_border"] <= 0.6
    assert 0.1 < values["component_min_roi_overlap"] <= 0.9
    assert 0.45 <= values["component_max_width"] < 1.0
    assert 0.1 < values["component_min_fill"] <= 0.6
    assert 0.03 < values["reason_scene_fraction"] < 0.45
    assert choice.accuracy == 1.0
    assert choice.confusion == {"none": {"none": 40}, "object": {"object": 20},
                                "scene": {"scene": 10}}


def _evidence(image: np.ndarray) -> dict:
    return image_evidence(image).values


def test_image_thresholds_are_chosen_from_clean_and_corrupted_frames_within_the_budget():
    scene = street_scene()
    clean = [frame("none", evidence=_evidence(np.roll(scene, 7 * k, axis=1))) for k in range(20)]
    clean.append(frame("none", evidence=_evidence(blurred(scene))))  # one soft clean frame
    degraded = [frame("scene", evidence=_evidence(corrupt(np.roll(scene, 5 * k, axis=0))))
                for k in range(3) for corrupt in (foggy, noisy, blurred, dark)]
    # the model is as confident on the corrupted frames as on the clean ones: only the image
    # tells them apart
    strict = choose_reason(clean + degraded, default_values(), false_scenes=0.0)
    assert strict.confusion["none"] == {"none": 21}  # no threshold may take the soft frame
    assert strict.confusion["scene"]["scene"] >= 9
    loose = choose_reason(clean + degraded, default_values(), false_scenes=0.05)
    assert loose.confusion["scene"] == {"scene": 12}  # the soft frame is the one allowed
    assert loose.confusion["none"] == {"none": 20, "scene": 1}
    fired = [name for name in STATISTICS if loose.values[name_of(name)] not in (0.0, 1.0)]
    assert fired and all(0.0 < loose.values[name_of(name)] < 1.0 for name in fired)


def name_of(statistic: str) -> str:
    return SCENE_SETTINGS[statistic][0]


def test_frames_without_image_evidence_leave_the_image_thresholds_alone():
    frames = [frame("none", uncertain=0.01) for _ in range(10)] + \
        [frame("scene", uncertain=0.5) for _ in range(10)]
    values = choose_reason(frames, default_values()).values
    assert values["image_min_contrast"] == 0.0 and values["image_max_noise"] == 1.0
    assert 0.01 < values["reason_scene_fraction"] < 0.5


def test_without_object_or_scene_frames_the_given_settings_stay():
    values = default_values()
    choice = choose_reason([frame("none") for _ in range(5)], values)
    for name in ("component_min_area", "reason_scene_fraction", "reason_scene_mean",
                 "image_min_sharpness"):
        assert choice.values[name] == values[name]


def test_bags_record_expected_reasons_and_replay_counts_them(tmp_path):
    image, label = np.zeros((8, 16, 3), np.uint8), np.zeros((8, 16), np.uint8)
    with_object = label.copy()
    with_object[2:4, 2:4] = 1
    frames = [Frame("a", image, with_object), Frame("b", image, label),
              Frame("c", image, with_object)]
    write_bag(expect_reason(iter(frames), "object", "anomaly"), 3, tmp_path / "bag",
              BagLayout(rate_hz=1.0), "anomaly", start_ns=10**9, progress=False)
    with BagSource(tmp_path / "bag") as source:
        stretches = expected_reasons(source.contents.custom)
    assert stretches == [(10**9, 10**9, "object"), (2 * 10**9, 2 * 10**9, "none"),
                         (3 * 10**9, 3 * 10**9, "object")]
    records = [FrameRecord(i, 0.0, False, "ok", 1.0, given, expected_reason=expected)
               for i, (given, expected) in enumerate([("object", "object"), ("scene", "none"),
                                                      ("none", "object"), ("input", None)])]
    summary = reason_summary(records)
    assert summary["counts"] == {"none": 1, "object": 1, "scene": 1, "input": 1}
    assert summary["accuracy"] == pytest.approx(1 / 3)
    assert summary["confusion"]["object"] == {"none": 1, "object": 1, "scene": 0,
                                              "object+scene": 0, "input": 0}
    assert "| object | 1 | 1 | 0 | 0 | 0 |" in confusion_table(summary["confusion"])


def test_an_unknown_expected_reason_is_refused():
    with pytest.raises(DataError, match="unknown reason"):
        expected_reasons({EXPECTED_REASON_KEY: '[[0, 1, "cat"]]'})
