"""make-bag -> replay -> report on the tiny model, damaged bags, parameter files: no ROS needed."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import yaml
from bag_commands import make_bag, replay
from sklearn.metrics import average_precision_score

from flowenedet_core.data.datasets import AnomalyFolder
from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.runtime.base import Prediction
from flowenedet_core.runtime.pipeline import Pipeline
from flowenedet_ros.bags.compare import compare_outputs
from flowenedet_ros.bags.label_metrics import LabelMetrics
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import (
    SOURCE_BAG_KEY,
    image_array,
    image_record,
    output_topics,
    stamp_ns,
)
from flowenedet_ros.bags.writer import BagWriter
from flowenedet_ros.cli import main
from flowenedet_ros.errors import ParameterError
from flowenedet_ros.image_conversion import image_to_rgb
from flowenedet_ros.image_evidence import STATISTICS
from flowenedet_ros.parameter_file import load_parameter_file, parse_override

TOPICS = output_topics()


@pytest.mark.parametrize("storage,encoding", [("mcap", "rgb8"), ("sqlite3", "bgr8")])
def test_make_bag_writes_frames_and_labels(tiny_data, tmp_path, storage, encoding):
    bag = make_bag(tiny_data, tmp_path / "bag", "--storage", storage, "--encoding", encoding)
    folder = AnomalyFolder("tiny", tiny_data["anomaly"])
    with BagSource(bag) as source:
        assert source.contents.topics == {"/camera/image_raw": "sensor_msgs/msg/Image",
                                          "/camera/labels": "sensor_msgs/msg/Image"}
        assert source.contents.custom == {"flowenedet.label_kind./camera/labels": "anomaly"}
        messages = list(source.messages())
    images = [m.message for m in messages if m.topic == "/camera/image_raw"]
    labels = [m.message for m in messages if m.topic == "/camera/labels"]
    assert [stamp_ns(m.header) for m in images] == [100_000_000_000 + i * 200_000_000
                                                    for i in range(len(folder))]
    for image, label, sample in zip(images, labels, folder, strict=True):
        assert image.encoding == encoding and image.header.frame_id == "camera"
        rgb = image_to_rgb(image.encoding, image.height, image.width, image.step,
                           memoryview(image.data))
        np.testing.assert_array_equal(rgb, sample.image)
        np.testing.assert_array_equal(image_array(label), sample.label)
        assert stamp_ns(label.header) == stamp_ns(image.header)
    assert not source.problems


def test_replay_writes_outputs_summary_and_report(tiny_data, tiny_onnx, tmp_path):
    bag = make_bag(tiny_data, tmp_path / "bag")
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 0 and summary["problems"] == []
    assert summary["frames"] == {"read": 3, "served": 3, "dropped": 0, "failed": 0, "lost": 0}
    assert len(summary["flag"]["timeline"]) == 3 and summary["latency_ms"]["mean"] > 0
    metrics = summary["metrics"]
    assert metrics["frames"] == 2 and metrics["skipped_without_positives"] == 1  # mask 0 is empty
    evidence = summary["image_evidence"]
    assert set(evidence["thresholds"]) == set(STATISTICS) and len(evidence["timeline"]) == 3
    assert all(set(values) == set(STATISTICS) and 0 <= values["contrast"] <= 1
               for _, values, _ in evidence["timeline"])

    pipeline = Pipeline.create(onnx=tiny_onnx, backend="onnxruntime", threads=1)
    folder = AnomalyFolder("tiny", tiny_data["anomaly"])
    with BagSource(tmp_path / "out" / "bag") as source:
        assert set(source.contents.topics) == set(TOPICS.values()) | {"/camera/labels"}
        assert source.contents.custom[SOURCE_BAG_KEY] == str(bag.resolve())  # calibrate reads it
        uncertainty = [m.message for m in source.messages({TOPICS["uncertainty"]})]
    for message, sample, index in zip(uncertainty, folder, range(3), strict=True):
        assert stamp_ns(message.header) == 100_000_000_000 + index * 200_000_000
        np.testing.assert_array_equal(image_array(message),
                                      pipeline.infer(sample.image).uncertainty)

    page = (tmp_path / "out" / "report.html").read_text()
    for source_name in ("flag_timeline.png", "curves.png"):
        assert source_name in page and (tmp_path / "out" / source_name).stat().st_size > 1000
    frames = sorted((tmp_path / "out" / "frames").glob("*.png"))
    assert len(frames) == 4 * 3 and all(f"frames/{f.name}" in page for f in frames)


def test_label_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    metrics, pooled, truths = LabelMetrics("anomaly"), [], []
    for index in range(4):
        uncertainty = rng.random((20, 30), dtype=np.float32)
        truth = (rng.random((20, 30)) < 0.2).astype(np.uint8) * (index > 0)
        truth[0] = 255
        scores = uncertainty + truth * 0.3
        metrics.add(Prediction(np.zeros((20, 30), np.uint8), scores, {}, None, scores), truth)
        if index > 0:
            pooled.append(scores[truth != 255])
            truths.append(truth[truth != 255])
    expected = 100 * average_precision_score(np.concatenate(truths), np.concatenate(pooled))
    summary = metrics.summary()
    assert summary["frames"] == 3 and summary["skipped_without_positives"] == 1
    assert summary["ap"] == pytest.approx(expected, abs=0.05)


def test_truncated_mcap_replays_what_is_readable(tiny_data, tiny_onnx, tmp_path):
    bag = make_bag(tiny_data, tmp_path / "bag")
    storage = next(bag.glob("*.mcap"))
    data = storage.read_bytes()
    storage.write_bytes(data[: int(len(data) * 0.6)])  # a recorder killed mid-write
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 1
    assert 1 <= summary["frames"]["served"] < 3
    assert any("cannot open" in p for p in summary["problems"])
    with BagSource(tmp_path / "out" / "bag") as source:  # what was replayed is kept, readable
        assert source.contents.counts[TOPICS["segmentation"]] == summary["frames"]["served"]


def test_damaged_sqlite3_rows_are_skipped(tiny_data, tiny_onnx, tmp_path):
    bag = make_bag(tiny_data, tmp_path / "bag", "--storage", "sqlite3")
    database = next(bag.glob("*.db3"))
    with sqlite3.connect(database) as connection:  # one camera frame's CDR cut short
        connection.execute("UPDATE messages SET data = substr(data, 1, 40) WHERE id = 3")
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 1 and summary["frames"] == {"read": 3, "served": 2, "dropped": 0,
                                               "failed": 1, "lost": 0}
    assert any("cannot be decoded" in p for p in summary["problems"])
    assert summary["flag"]["timeline"][1][2] is True  # an undecodable frame raises the flag


def test_bad_frames_are_flagged_and_skipped(tiny_data, tiny_onnx, tmp_path):
    """A frame with a bad encoding and one with truncated data: one error line each, flag up,
    the other frames served."""
    rng = np.random.default_rng(0)
    with BagWriter(tmp_path / "bag") as writer:
        for index in range(4):
            message = image_record(rng.integers(0, 255, (48, 96, 3), dtype=np.uint8),
                                   10**9 * (index + 1), "camera")
            if index == 1:
                message.encoding = "16UC1"
            if index == 2:
                message.data = message.data[:100]
            writer.write("/cam", 10**9 * (index + 1), message)
    code, summary = replay(tmp_path / "bag", tiny_onnx, tmp_path / "out")
    assert code == 1
    assert summary["frames"] == {"read": 4, "served": 2, "dropped": 0, "failed": 2, "lost": 0}
    assert [entry[2] for entry in summary["flag"]["timeline"]][1:3] == [True, True]
    assert "16UC1 is a depth image, not a camera frame" in summary["problems"][0]
    assert "data has 100 bytes" in summary["problems"][1]
    with BagSource(tmp_path / "out" / "bag") as source:  # one /diagnostics per second, as live
        statuses = [m.message.status[0] for m in source.messages({"/diagnostics"})]
    assert [s.level for s in statuses] == [0, 2, 2, 2]  # an error stays reported for a period
    assert "16UC1" in statuses[1].message
    assert {v.key: v.value for v in statuses[3].values}["failed_frames"] == "2"


def test_compare_outputs_of_identical_replays(tiny_data, tiny_onnx, tmp_path):
    bag = make_bag(tiny_data, tmp_path / "bag")
    replay(bag, tiny_onnx, tmp_path / "a")
    replay(bag, tiny_onnx, tmp_path / "b", "--storage", "sqlite3")
    difference = compare_outputs(tmp_path / "a" / "bag", tmp_path / "b" / "bag")
    assert difference.matched == 3 and difference.label_mismatched_pixels == 0
    assert difference.max_uncertainty_difference == 0.0


def test_bad_command_lines_give_one_error_line(tiny_data, tmp_path, capsys):
    assert main(["replay", str(tmp_path / "missing")]) == 2
    assert main(["make-bag", str(tmp_path / "b"), "--images", str(tiny_data["anomaly"]),
                 "--labels", str(tiny_data["anomaly"])]) == 2
    bag = make_bag(tiny_data, tmp_path / "bag")
    assert main(["replay", str(bag), "-p", "pixel_threshold:=2"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 3 and all(e.startswith("flowenedet: error: ") for e in errors)
    assert "no bag at" in errors[0] and "--label-kind" in errors[1]
    assert "pixel_threshold must be <= 1" in errors[2]


def test_replay_runs_test_time_scales_when_asked(tiny_data, tmp_path, capsys):
    bag = make_bag(tiny_data, tmp_path / "bag")
    model = ["-p", f"weights:={tiny_data['weights']}", "-p", "input_size:=[64,128]",
             "-p", "backend:=torch", "-p", "threads:=1"]
    assert main(["replay", str(bag), "--out", str(tmp_path / "out"), *model,
                 "-p", "tta_scales:=[1.0,0.5,0.25]"]) == 0
    spec = ModelSpec("erfnet", tiny_data["weights"], (64, 128), tta_scales=(1.0, 0.5, 0.25))
    pipeline = Pipeline.create(spec, backend="torch", threads=1)
    with BagSource(tmp_path / "out" / "bag") as source:
        uncertainty = [m.message for m in source.messages({TOPICS["uncertainty"]})]
    for message, sample in zip(uncertainty, AnomalyFolder("tiny", tiny_data["anomaly"]),
                               strict=True):
        np.testing.assert_array_equal(image_array(message),
                                      pipeline.infer(sample.image).uncertainty)
    capsys.readouterr()
    assert main(["replay", str(bag), *model, "-p", "tta_scales:=[0.5]"]) == 2
    assert main(["replay", str(bag), "-p", "onnx:=model.onnx",
                 "-p", "tta_scales:=[1.0,0.5]"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and "tta_scales: test-time scales [0.5] must be" in errors[0]
    assert "an onnx file has its scales built in" in errors[1]


def test_parameter_file_layers_and_validation(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({
        "/**": {"ros__parameters": {"pixel_threshold": 0.7, "raise_frames": 2}},
        "flowenedet_node": {"ros__parameters": {"raise_frames": 4}}}))
    values = load_parameter_file(path, dict([parse_override("scene_threshold:=0.2")]))
    assert (values["pixel_threshold"], values["raise_frames"], values["scene_threshold"]) == \
        (0.7, 4, 0.2)
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"pixel_treshold": 0.7}}}))
    with pytest.raises(ParameterError, match=r"unknown parameter.*pixel_treshold"):
        load_parameter_file(path)
    with pytest.raises(ParameterError, match="NAME:=VALUE"):
        parse_override("pixel_threshold=0.3")
