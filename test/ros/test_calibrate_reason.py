import numpy as np
import pytest

from flowenedet_core.errors import DataError
from flowenedet_ros.bags.calibrate_reason import (
    FrameStatistics,
    budget_threshold,
    choose_reason,
)
from flowenedet_ros.bags.make_bag import BagLayout, Frame, expect_reason, write_bag
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.reason_summary import (
    EXPECTED_REASON_KEY,
    confusion_table,
    expected_reasons,
    reason_summary,
)
from flowenedet_ros.bags.replay import FrameRecord
from flowenedet_ros.parameter_file import default_values


def frame(expected: str, areas=(), borders=(), uncertain: float = 0.01, mean: float = 0.05,
          rois=None):
    return FrameStatistics(expected, np.asarray(areas, float), np.asarray(borders, float),
                           np.ones(len(areas)) if rois is None else np.asarray(rois, float),
                           uncertain, mean)


def test_the_budget_threshold_separates_with_a_margin_or_keeps_the_budget():
    values = np.array([0.01, 0.02, 0.03, 0.30, 0.40])
    positive = np.array([False, False, False, True, True])
    assert budget_threshold(values, positive, 0.5) == pytest.approx(0.165)  # separable
    overlapping = np.concatenate([np.arange(1, 21) / 100, [0.195, 0.25, 0.30]])
    positive = np.arange(23) >= 20  # 20 negatives 0.01-0.20; one positive inside their range
    assert budget_threshold(overlapping, positive, 0.1) == pytest.approx(0.1925)  # 0.20 above
    assert budget_threshold(overlapping, positive, 0.0) == pytest.approx(0.225)  # none above


def test_the_chosen_settings_separate_objects_scenes_and_clean_frames():
    frames = ([frame("none", [0.003], [0.9]) for _ in range(10)]  # small specks on the road
              + [frame("none", [0.03], [0.05]) for _ in range(10)]  # a facade, off the road
              + [frame("none", [0.02], [0.9], rois=[0.1]) for _ in range(10)]  # beside the ROI
              + [frame("object", [0.02], [0.8], uncertain=0.03) for _ in range(10)]
              + [frame("scene", [0.4], [0.6], uncertain=0.45, mean=0.3) for _ in range(10)])
    choice = choose_reason(frames, default_values())
    values = choice.values
    assert 0.003 < values["component_min_area"] <= 0.02
    assert 0.05 < values["component_min_drivable_border"] <= 0.8
    assert 0.1 < values["component_min_roi_overlap"] <= 1.0
    assert values["component_max_area"] < 0.4
    assert 0.03 < values["reason_scene_fraction"] < 0.45
    assert choice.accuracy == 1.0
    assert choice.confusion == {"none": {"none": 30}, "object": {"object": 10},
                                "scene": {"scene": 10}}


def test_without_object_or_scene_frames_the_given_settings_stay():
    values = default_values()
    choice = choose_reason([frame("none") for _ in range(5)], values)
    for name in ("component_min_area", "reason_scene_fraction", "reason_scene_mean"):
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
