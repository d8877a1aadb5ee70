"""The node's camera inputs over real ROS: `compressed` transport against `raw`, a Bayer stream,
corrupt compressed data, and the start-up lines that say where the node listens."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from flowenedet_ros.image_conversion import image_to_rgb, rgb_to_image_fields

from ros_harness import (
    STARTUP_S,
    Client,
    as_array,
    compressed_message,
    frame_message,
    ros_environment,
    serve,
    start_node,
    stop,
    wait_for,
)

pytestmark = pytest.mark.ros
PARAMETERS = {"raise_frames": 1, "clear_frames": 1, "diagnostics_period_s": 0.2, "threads": 1,
              "stale_timeout_s": 3600.0, "qos_reliability": "reliable"}
RNG = np.random.default_rng(3)
FRAMES = [RNG.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(3)]


@pytest.fixture(scope="module")
def nodes(tiny_onnx, tmp_path_factory):
    """A raw and a compressed node on the same model, each in its own process and domain."""
    started = []
    try:
        for transport in ("raw", "compressed"):
            environment = ros_environment()
            log = tmp_path_factory.mktemp(transport) / "node.log"
            process = start_node({"onnx": tiny_onnx, "image_transport": transport,
                                  **PARAMETERS}, environment, log)
            started.append((Client(environment, transport), process, log))
        for client, process, log in started:
            wait_for(client.connected, STARTUP_S, "the node's topics", process, log)
            client.handshake()
        yield dict(zip(("raw", "compressed"), started, strict=True))
    finally:
        for client, process, _ in started:
            client.close()
            stop(process)


def outputs_of(client: Client, message) -> tuple[np.ndarray, np.ndarray, object]:
    served = serve(client, message)
    return (as_array(served["segmentation"]), as_array(served["uncertainty"]),
            served["segmentation"].header)


def test_png_frames_on_compressed_transport_give_the_outputs_of_raw_frames(nodes):
    raw, compressed = nodes["raw"][0], nodes["compressed"][0]
    for index, frame in enumerate(FRAMES):
        labels, uncertainty, _ = outputs_of(raw, frame_message(frame, "rgb8", index))
        message = compressed_message(frame, index)
        labels_c, uncertainty_c, header = outputs_of(compressed, message)
        assert np.array_equal(labels, labels_c)
        assert np.abs(uncertainty - uncertainty_c).max() <= 1e-6
        assert header == message.header


def test_jpeg_frames_are_served_with_the_input_header(nodes):
    compressed = nodes["compressed"][0]
    message = compressed_message(FRAMES[0], 7, codec="jpeg")
    labels, uncertainty, header = outputs_of(compressed, message)
    assert labels.shape == uncertainty.shape == (64, 96) and header == message.header


def test_a_bayer_stream_is_served_as_its_demosaiced_rgb(nodes):
    raw = nodes["raw"][0]
    for index, frame in enumerate(FRAMES):
        height, width, step, data = rgb_to_image_fields(frame, "bayer_grbg8")
        bayer = Image(height=height, width=width, encoding="bayer_grbg8", step=step, data=data)
        bayer.header.stamp.sec, bayer.header.frame_id = 2000 + index, f"bayer_{index}"
        labels, uncertainty, header = outputs_of(raw, bayer)
        demosaiced = image_to_rgb("bayer_grbg8", height, width, step, data)
        expected_labels, expected_uncertainty, _ = outputs_of(
            raw, frame_message(demosaiced, "rgb8", index))
        assert header == bayer.header
        assert np.array_equal(labels, expected_labels)
        assert np.abs(uncertainty - expected_uncertainty).max() <= 1e-6


def test_corrupt_compressed_data_is_reported_once_and_the_next_good_frame_is_served(nodes):
    client, process, log = nodes["compressed"]
    fmt, data = compressed_message(FRAMES[1], 0).format, bytes(compressed_message(FRAMES[1],
                                                                                0).data)
    corrupt = CompressedImage(format=fmt, data=data[: len(data) // 3])
    corrupt.header.frame_id = "corrupt"
    client.clear()
    for _ in range(3):  # the repeats are throttled
        client.image_pub.publish(corrupt)
    wait_for(lambda: any(m.status[0].level == b"\x02" and "cannot be decoded" in
                         m.status[0].message for m in client.messages("diagnostics")),
             10, "diagnostics ERROR for corrupt data")
    assert client.messages("low_confidence")[-1].data is True
    served = serve(client, compressed_message(FRAMES[1], 9))
    assert served["segmentation"].header.frame_id == "camera_9"
    assert process.poll() is None
    errors = [line for line in log.read_text().splitlines() if "cannot be decoded" in line]
    assert len(errors) == 1 and "'corrupt'" in errors[0] and "[ERROR]" in errors[0]


def test_start_up_names_the_topic_and_silence_there_is_warned_about(tiny_onnx, tmp_path):
    log = tmp_path / "node.log"
    process = start_node({"onnx": tiny_onnx, "image_transport": "compressed",
                          "stale_timeout_s": 0.5, "diagnostics_period_s": 0.1},
                         ros_environment(), log)
    try:
        wait_for(lambda: "no frame on" in log.read_text(), STARTUP_S, "the silence warning",
                 process, log)
    finally:
        stop(process)
    text = log.read_text()
    assert "listening on /flowenedet_node/image/compressed (sensor_msgs/CompressedImage)" in text
    assert ("no frame on /flowenedet_node/image/compressed within stale_timeout_s=0.5 s; "
            "0 publisher(s) there: check the remap (quoted, or a shell expands ~: "
            "-r '~/image/compressed:=/camera/...')") in text
