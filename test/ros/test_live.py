"""Live mode: a bag played into the real node process and its outputs recorded, against offline
replay of the same bag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowenedet_ros.bags.compare import compare_outputs
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.cli import main

from ros_harness import REPO, STARTUP_S, ros_environment, start_node, stop

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("transport", ["raw", "compressed"])
def test_live_recording_equals_offline_replay(tiny_data, tiny_onnx, tmp_path, transport):
    """compressed: a PNG CompressedImage bag into a node on image_transport compressed."""
    bag = tmp_path / "drive"
    assert main(["make-bag", str(bag), "--data", f"anomaly:{tiny_data['anomaly']}",
                 "--rate", "4", *(["--compressed", "png"] if transport == "compressed"
                                  else [])]) == 0
    assert main(["replay", str(bag), "--out", str(tmp_path / "offline"),
                 "-p", f"onnx:={tiny_onnx}", "-p", "threads:=1"]) == 0

    environment = ros_environment()
    log = tmp_path / "node.log"
    node = start_node({"onnx": tiny_onnx, "threads": 1, "qos_reliability": "reliable",
                       "stale_timeout_s": 3600.0, "image_transport": transport}, environment,
                      log)
    try:
        # slowed down 4x: every frame is served even on a loaded CI machine
        played = subprocess.run(
            [sys.executable, "-m", "flowenedet_ros.cli", "play", str(bag), "--record",
             str(tmp_path / "live"), "--rate", "0.25", "--wait", str(STARTUP_S)],
            env=environment, cwd=REPO, capture_output=True, text=True, timeout=STARTUP_S + 120)
    finally:
        stop(node)
    assert played.returncode == 0, played.stdout + played.stderr + log.read_text()
    assert "played 3 frames" in played.stdout

    difference = compare_outputs(tmp_path / "offline" / "bag", tmp_path / "live")
    assert difference.frames_b == 3 and difference.matched == 3, played.stdout
    assert difference.label_mismatched_pixels == 0
    assert difference.max_uncertainty_difference <= 1e-4
    with BagSource(tmp_path / "live") as source:  # labels travel along for evaluation
        assert source.contents.counts["/camera/labels"] == 3
        assert source.contents.custom == {"flowenedet.label_kind./camera/labels": "anomaly"}
