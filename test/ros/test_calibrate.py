"""Threshold calibration: the conformal quantile, the flag simulation, and the command's YAML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowenedet_ros.bags.calibrate import (
    PIXEL_THRESHOLDS,
    Sequence,
    binomial_cdf,
    calibrate,
    conformal_threshold,
    evaluate_choice,
    window_statistics,
)
from flowenedet_ros.cli import main
from flowenedet_ros.parameter_file import default_values, load_parameter_file
from flowenedet_ros.pipeline_factory import flag_config


def test_window_statistics_are_run_minima():
    fractions = np.array([0.1, 0.5, 0.4, 0.05, 0.6])
    np.testing.assert_allclose(window_statistics(fractions, 2), [0.1, 0.4, 0.05, 0.05])
    assert window_statistics(fractions, 6).size == 0


def test_binomial_cdf_matches_scipy():
    from scipy.stats import binom

    for k, n, p in ((0, 10, 0.1), (3, 50, 0.05), (40, 5000, 0.01), (7, 7, 0.5)):
        assert binomial_cdf(k, n, p) == pytest.approx(binom.cdf(k, n, p), rel=1e-9)


def test_conformal_threshold_rank_and_small_sample_bound():
    statistics = np.arange(1, 1001) / 1000.0  # n = 1000
    threshold, bound = conformal_threshold(statistics, 0.1)
    # the smallest rank r with P(Binomial(1000, 0.1) <= 1000 - r) <= 5 %: r = 916
    assert (threshold, bound) == (0.916, 0.1)
    threshold, bound = conformal_threshold(statistics, 0.0001)
    assert threshold == 1.0 and bound == pytest.approx(1 - 0.05 ** (1 / 1000))


def synthetic(name: str, frames: int, rng, anomalous: bool) -> Sequence:
    """Uncertain fraction per frame and pixel threshold: in-distribution frames a few per cent
    falling with the threshold, anomaly frames more; correlated over time like a drive."""
    level = np.convolve(rng.gamma(2.0, 0.01, frames + 4), np.ones(5) / 5, "valid")
    if anomalous:
        level = level + 0.08
    thresholds = np.asarray(PIXEL_THRESHOLDS)
    fractions = np.clip(level[:, None] * (1.2 - thresholds)[None], 0, 1)
    counts = np.zeros((len(thresholds), 3), np.int64)
    return Sequence(name, fractions, np.full(frames, anomalous), counts)


def test_calibration_holds_the_false_alarm_target_on_held_out_frames():
    rng = np.random.default_rng(0)
    values = default_values()
    target = 0.01
    inliers = [synthetic(f"id{i}", 1000, rng, False) for i in range(5)]
    anomalies = [synthetic("ood", 300, rng, True)]
    choice = calibrate(inliers, anomalies, values, target)
    assert choice.calibration_far <= target and choice.far_bound == pytest.approx(target)
    assert choice.detection_rate > 0.9
    held_out = [synthetic(f"new{i}", 1000, rng, False) for i in range(20)]
    index = PIXEL_THRESHOLDS.index(choice.pixel_threshold)
    far, _ = evaluate_choice(held_out, [], index, choice.scene_threshold, choice.raise_frames,
                             flag_config(values))
    assert far <= 1.5 * target  # 20,000 new frames: sampling noise only


def test_without_anomaly_bags_only_the_scene_threshold_moves():
    rng = np.random.default_rng(1)
    values = {**default_values(), "pixel_threshold": 0.6, "raise_frames": 2}
    choice = calibrate([synthetic("id", 200, rng, False)], [], values, 0.001)
    assert (choice.pixel_threshold, choice.raise_frames) == (0.6, 2)
    assert choice.far_bound > 0.001  # 200 frames cannot certify 1 in 1,000: reported, not hidden


def test_a_fixed_pixel_threshold_is_kept_with_labelled_anomaly_bags():
    rng = np.random.default_rng(2)
    values = {**default_values(), "pixel_threshold": 0.7}
    inliers = [synthetic("id", 500, rng, False)]
    anomalies = [synthetic("ood", 100, rng, True)]
    assert calibrate(inliers, anomalies, values, 0.01).pixel_threshold != 0.7
    fixed = calibrate(inliers, anomalies, values, 0.01, fixed_pixel_threshold=True)
    assert fixed.pixel_threshold == 0.7 and fixed.detection_rate > 0.5


def test_calibrate_command_writes_a_parameter_file_the_node_loads(tiny_data, tiny_onnx,
                                                                   tmp_path):
    for name, spec in (("inlier", f"cityscapes:{tiny_data['cityscapes']}:train"),
                       ("anomaly", f"anomaly:{tiny_data['anomaly']}"),
                       ("degraded", f"cityscapes-c:{tiny_data['cityscapes']}:train:contrast:5")):
        assert main(["make-bag", str(tmp_path / name), "--data", spec]) == 0
        main(["replay", str(tmp_path / name), "--out", str(tmp_path / f"{name}_replay"),
              "-p", f"onnx:={tiny_onnx}", "-p", "threads:=1"])
    out = tmp_path / "calibrated.yaml"
    assert main(["calibrate", "--inlier", str(tmp_path / "inlier_replay" / "bag"),
                 "--anomaly", str(tmp_path / "anomaly_replay" / "bag"),
                 "--degraded", str(tmp_path / "degraded_replay" / "bag"),
                 "-p", f"onnx:={tiny_onnx}", "--target", "0.01", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# flowenedet calibrate: target <= 0.01")
    assert "WARNING: 3 frames cannot certify" in text
    values = load_parameter_file(out)  # validated exactly as the node validates
    assert values["onnx"] == str(tiny_onnx)
    assert values["pixel_threshold"] in PIXEL_THRESHOLDS and 1 <= values["raise_frames"] <= 5
    assert (tmp_path / "calibrated.json").is_file()
    # the image evidence of the camera frames the degraded bag was replayed from: its contrast
    # is a twentieth of the others' (random pixels), and the reason reads scene on all of them
    assert 0.0 < values["image_min_contrast"] < 0.2  # between theirs (0.015) and 0.29
    report = json.loads((tmp_path / "calibrated.json").read_text())
    given = report["reason"]["confusion"]["scene"]
    assert sum(count for kind, count in given.items() if "scene" in kind) == 3
