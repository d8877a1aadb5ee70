"""`flowenedet_node` from the command line: help, and every failure to start one clear line with
a non-zero exit, never a traceback; and the shipped config serving frames with no other
argument."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from flowenedet_core.runtime.selection import probe_environment

from ros_harness import (
    REPO,
    STARTUP_S,
    Client,
    frame_message,
    ros_environment,
    serve,
    stop,
    wait_for,
)

pytestmark = pytest.mark.ros
NODE = [sys.executable, "-m", "flowenedet_ros.node"]


def run_node(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NODE, *arguments], env=ros_environment(), cwd=REPO,
                          capture_output=True, text=True, timeout=STARTUP_S)


def test_help_prints_usage_and_exits_without_starting_ros():
    result = run_node("--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: flowenedet_node")
    for text in ("~/image", "/diagnostics", "pixel_threshold", "README's parameter table",
                 "--params-file config/flowenedet.yaml"):
        assert text in result.stdout


@pytest.mark.parametrize(("arguments", "message"), [
    (("--params-file", "missing.yaml"), "cannot start: parameter file missing.yaml not found"),
    (("-p", "weights:=embedded:erfnet-huge"), "cannot start: .*weights: unknown embedded model "
                                              "'embedded:erfnet-huge'; the embedded ones are"),
    (("--no-such-ros-argument",), "cannot start: unknown ROS argument"),
])
def test_a_node_that_cannot_start_says_why_in_one_line(arguments, message):
    result = run_node("--ros-args", *arguments)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.skipif(probe_environment().tensorrt_version is not None,
                    reason="TensorRT is installed here")
def test_tensorrt_requested_without_it_is_one_line():
    result = run_node("--ros-args", "--params-file", "config/flowenedet.yaml",
                      "-p", "backend:=tensorrt")
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    assert "cannot start: backend tensorrt is unavailable" in result.stderr + result.stdout


def test_the_shipped_config_serves_frames_with_no_other_argument(tmp_path):
    environment = ros_environment()
    log = tmp_path / "node.log"
    process = subprocess.Popen([*NODE, "--ros-args", "--params-file", "config/flowenedet.yaml"],
                               env=environment, cwd=REPO, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    client = Client(environment)
    try:
        wait_for(client.connected, STARTUP_S, "the node's topics", process, log)
        client.handshake()
        frame = np.random.default_rng(0).integers(0, 256, (96, 192, 3), dtype=np.uint8)
        outputs = serve(client, frame_message(frame, "rgb8", 0))
        assert (outputs["segmentation"].height, outputs["segmentation"].width) == (96, 192)
    finally:
        client.close()
        stop(process)
    assert "model input 256x512" in log.read_text()  # the embedded erfnet-tiny's input size
