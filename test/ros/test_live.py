"""Live mode: a bag played into the real node process and its outputs recorded, against offline
replay of the same bag."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from flowenedet_ros.bags.compare import compare_outputs
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import image_record, serialize
from flowenedet_ros.bags.writer import BagWriter
from flowenedet_ros.cli import main

from ros_harness import REPO, STARTUP_S, ros_environment, start_node, stop

pytestmark = pytest.mark.ros


def play(bag, onnx, tmp_path, transport: str = "raw") -> tuple[subprocess.CompletedProcess, object]:
    """`flowenedet play BAG --record tmp_path/live` into a node started for it."""
    environment = ros_environment()
    log = tmp_path / "node.log"
    node = start_node({"onnx": onnx, "threads": 1, "qos_reliability": "reliable",
                       "stale_timeout_s": 3600.0, "image_transport": transport}, environment,
                      log)
    try:
        # slowed down 4x: every frame is served even on a loaded CI machine
        return subprocess.run(
            [sys.executable, "-m", "flowenedet_ros.cli", "play", str(bag), "--record",
             str(tmp_path / "live"), "--rate", "0.25", "--wait", str(STARTUP_S)],
            env=environment, cwd=REPO, capture_output=True, text=True,
            timeout=STARTUP_S + 120), log
    finally:
        stop(node)


@pytest.mark.parametrize("transport", ["raw", "compressed"])
def test_live_recording_equals_offline_replay(tiny_data, tiny_onnx, tmp_path, transport):
    """compressed: a PNG CompressedImage bag into a node on image_transport compressed."""
    bag = tmp_path / "drive"
    assert main(["make-bag", str(bag), "--data", f"anomaly:{tiny_data['anomaly']}",
                 "--rate", "4", *(["--compressed", "png"] if transport == "compressed"
                                  else [])]) == 0
    assert main(["replay", str(bag), "--out", str(tmp_path / "offline"),
                 "-p", f"onnx:={tiny_onnx}", "-p", "threads:=1"]) == 0

    played, log = play(bag, tiny_onnx, tmp_path, transport)
    assert played.returncode == 0, played.stdout + played.stderr + log.read_text()
    assert "played 3 frames: 3 served, 0 dropped" in played.stdout

    difference = compare_outputs(tmp_path / "offline" / "bag", tmp_path / "live")
    assert difference.frames_b == 3 and difference.matched == 3, played.stdout
    assert difference.label_mismatched_pixels == 0
    assert difference.max_uncertainty_difference <= 1e-4
    with BagSource(tmp_path / "live") as source:  # labels travel along for evaluation
        assert source.contents.counts["/camera/labels"] == 3
        assert source.contents.custom == {"flowenedet.label_kind./camera/labels": "anomaly"}


def test_live_counts_every_frame_as_served_dropped_or_failed(tiny_onnx, tmp_path):
    """An unconvertible frame fails in the node, an undecodable one is not played but failed."""
    rng = np.random.default_rng(1)
    with BagWriter(tmp_path / "bag") as writer:
        for index in range(4):
            stamp = 10**9 + index * 250_000_000
            message = image_record(rng.integers(0, 255, (48, 96, 3), dtype=np.uint8), stamp,
                                   "camera")
            if index == 1:
                message.data = message.data[:100]
            data = serialize(message)
            writer.write_raw("/cam", message.__msgtype__, stamp,
                             data[:40] if index == 2 else data)
    played, log = play(tmp_path / "bag", tiny_onnx, tmp_path)
    assert played.returncode == 1, played.stdout + played.stderr + log.read_text()
    assert "played 3 frames: 2 served, 0 dropped (the node serves the latest frame), 2 failed" \
        in played.stdout
    assert "problem: /cam message at 1500000000 ns cannot be decoded" in played.stdout
    with BagSource(tmp_path / "live") as source:
        flags = [m.message.data for m in source.messages({"/flowenedet_node/low_confidence"})]
        statuses = [m.message.status[0] for m in source.messages({"/diagnostics"})]
    assert flags[1] is True  # the failed frame raises the flag, as offline
    assert {v.key: v.value for v in statuses[-1].values}["failed_frames"] == "1"


def test_play_refuses_a_depth_topic_naming_the_colour_ones_before_waiting_for_a_node(tmp_path):
    with BagWriter(tmp_path / "bag") as writer:
        for index, encoding in enumerate(("rgb8", "16UC1")):
            message = image_record(np.zeros((4, 8, 3), np.uint8), 10**9, "camera")
            message.encoding, message.step = encoding, 24 if encoding == "rgb8" else 16
            message.data = message.data[:message.step * 4]
            writer.write(("/color", "/depth")[index], 10**9, message)
    played = subprocess.run(
        [sys.executable, "-m", "flowenedet_ros.cli", "play", str(tmp_path / "bag"), "--record",
         str(tmp_path / "live"), "--topic", "/depth", "--wait", "1"],
        env=ros_environment(), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert played.returncode == 2
    assert played.stderr.splitlines()[-1].endswith(
        "/depth: 16UC1 is a depth image, not a camera frame: the model needs a colour or grey "
        "camera (an encoding of the conversion table, or jpeg / png of one); colour topics of "
        "this bag: /color (sensor_msgs/msg/Image, 1 messages)")
    assert not (tmp_path / "live").exists()
