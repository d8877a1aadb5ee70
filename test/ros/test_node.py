"""The node in its own process, talked to over ROS 2 (pip wheels) on loopback."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sensor_msgs.msg import Image

from ros_harness import (
    STARTUP_S,
    Client,
    as_array,
    frame_message,
    ros_environment,
    serve,
    start_node,
    stop,
    wait_for,
)

pytestmark = pytest.mark.ros


@pytest.fixture
def node(tiny_onnx, tmp_path):
    """The node on the tiny exported model, and a connected client."""
    environment = ros_environment()
    log = tmp_path / "node.log"
    parameters = {"onnx": tiny_onnx, "raise_frames": 1, "clear_frames": 1,
                  "max_pixels": 300 * 300, "diagnostics_period_s": 0.2, "threads": 1,
                  "stale_timeout_s": 3600.0,  # a pause between test frames is not a stale camera
                  "qos_reliability": "reliable"}  # no frame lost in transport on a busy CI box
    process = start_node(parameters, environment, log)
    client = Client(environment)
    try:
        wait_for(client.connected, STARTUP_S, "the node's topics", process, log)
        client.handshake()
        yield client, process, log
    finally:
        client.close()
        stop(process)


def test_every_output_has_the_input_header_size_and_encoding(node):
    client, _, _ = node
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (72, 120, 3), dtype=np.uint8)
    cases = [(rgb, "rgb8", 0), (rgb[:, :, ::-1].copy(), "bgr8", 4), (rgb[:, :, 0], "mono8", 3)]
    every = ("segmentation", "segmentation/color", "uncertainty", "ood_mask", "low_confidence")
    for index, (array, encoding, padding) in enumerate(cases):
        outputs = serve(client, frame_message(array, encoding, index, padding), every)
        expected = {"segmentation": "mono8", "segmentation/color": "rgb8",
                    "uncertainty": "32FC1", "ood_mask": "mono8"}
        for topic, encoding_out in expected.items():
            message = outputs[topic]
            assert message.encoding == encoding_out, topic
            assert (message.height, message.width) == (72, 120), topic
            assert message.header.frame_id == f"camera_{index}"
            assert message.header.stamp.sec == 1000 + index
        uncertainty = as_array(outputs["uncertainty"])
        assert uncertainty.min() >= 0.0 and uncertainty.max() <= 1.0
        assert set(np.unique(as_array(outputs["ood_mask"]))) <= {0, 255}
        assert as_array(outputs["segmentation"]).max() < 19
    wait_for(lambda: any(int(dict((v.key, v.value) for v in m.status[0].values)["frames"]) >= 3
                         for m in client.messages("diagnostics")), 10, "diagnostics")
    status = client.messages("diagnostics")[-1].status[0]
    values = {v.key: v.value for v in status.values}
    assert {"uncertain_fraction", "low_confidence", "flag_reason", "latency_ms",
            "dropped_frames", "backend", "image_sharpness", "image_contrast", "image_dark",
            "image_saturated", "image_noise", "image_degraded", "image_degraded_by"} <= set(values)
    assert float(values["image_contrast"]) > 0 and values["image_degraded"] == "false"
    assert values["backend"].startswith("onnxruntime") and float(values["latency_ms"]) > 0


def test_live_threshold_change_takes_effect_on_the_next_frame(node):
    client, _, _ = node
    frame = np.random.default_rng(1).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    outputs = ("ood_mask", "low_confidence")
    assert client.set_parameter("pixel_threshold", 0.0).successful
    assert as_array(serve(client, frame_message(frame, "rgb8", 0), outputs)["ood_mask"]).min() \
        == 255
    assert client.set_parameter("pixel_threshold", 1.0).successful
    served = serve(client, frame_message(frame, "rgb8", 1), outputs)
    assert as_array(served["ood_mask"]).max() == 0 and served["low_confidence"].data is False
    assert client.set_parameter("scene_threshold", 0.0).successful
    assert client.set_parameter("pixel_threshold", 0.0).successful
    assert serve(client, frame_message(frame, "rgb8", 2), outputs)["low_confidence"].data


def test_the_reason_and_the_anomaly_instances_follow_the_frame_and_the_parameters(node):
    client, _, _ = node
    frame = np.random.default_rng(3).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    outputs = ("low_confidence/reason", "ood_instances")
    assert client.set_parameter("pixel_threshold", 1.0).successful  # nothing uncertain
    served = serve(client, frame_message(frame, "rgb8", 0), outputs)
    assert served["low_confidence/reason"].data == "none"
    instances = served["ood_instances"]
    assert instances.encoding == "mono16" and (instances.height, instances.width) == (64, 128)
    assert as_array(instances).max() == 0
    assert client.set_parameter("pixel_threshold", 0.0).successful  # the whole frame uncertain
    served = serve(client, frame_message(frame, "rgb8", 1), outputs)
    assert served["low_confidence/reason"].data == "scene"  # no drivable border: unbounded
    assert client.set_parameter("component_min_drivable_border", 0.0).successful
    served = serve(client, frame_message(frame, "rgb8", 2), outputs)
    assert served["low_confidence/reason"].data == "object"  # any size: the whole frame
    assert set(np.unique(as_array(served["ood_instances"]))) == {1}
    wait_for(lambda: any(dict((v.key, v.value) for v in m.status[0].values).get(
        "largest_component_box") == "0 0 128 64" for m in client.messages("diagnostics")), 10,
        "the component in diagnostics")
    assert client.set_parameter("image_min_contrast", 1.0).successful  # every image degraded
    served = serve(client, frame_message(frame, "rgb8", 3), outputs)
    assert served["low_confidence/reason"].data == "object+scene"
    wait_for(lambda: any(dict((v.key, v.value) for v in m.status[0].values).get(
        "image_degraded_by") == "contrast" for m in client.messages("diagnostics")), 10,
        "the image evidence in diagnostics")
    assert client.set_parameter("component_max_width", 0.5).successful  # edge to edge: no object
    served = serve(client, frame_message(frame, "rgb8", 4), outputs)
    assert served["low_confidence/reason"].data == "scene"
    result = client.set_parameter("component_min_area", 2.0)
    assert not result.successful and "1.0" in result.reason


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("pixel_threshold", 1.5, "1.0"),  # rclpy's range check names the bound
    ("roi", [0.5, 0.0, 0.4, 1.0], "0 <= x0 < x1 <= 1"),
    ("raise_frames", 0, "1"),
    ("backend", "torch", "read-only"),
])
def test_invalid_or_read_only_parameter_changes_are_rejected_with_a_reason(node, name, value,
                                                                            reason):
    client, _, _ = node
    result = client.set_parameter(name, value)
    assert not result.successful and reason in result.reason


def test_bad_frames_are_reported_once_and_the_next_good_frame_is_served(node):
    client, process, log = node
    good = np.random.default_rng(2).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    bad = {
        "16UC1 is a depth image, not a camera frame": Image(
            height=4, width=4, encoding="16UC1", step=8, data=bytes(32)),
        "step 2 is shorter than a row": Image(height=4, width=4, encoding="bayer_rggb8",
                                              step=2, data=bytes(16)),
        "data has 100 bytes": Image(height=64, width=128, encoding="rgb8", step=384,
                                    data=bytes(100)),
        "empty image": Image(height=0, width=0, encoding="rgb8", step=0, data=b""),
        "exceeds max_pixels": Image(height=400, width=400, encoding="rgb8", step=1200,
                                    data=bytes(400 * 1200)),
    }
    for index, (error, message) in enumerate(bad.items()):
        message.header.frame_id = f"bad_{index}"
        client.clear()
        for _ in range(2):  # the second identical error is throttled
            client.image_pub.publish(message)
        wait_for(lambda: any(m.status[0].level == b"\x02" for m in client.messages(
            "diagnostics")), 10, f"diagnostics ERROR for {error}")
        assert client.messages("low_confidence")[-1].data is True
        assert client.messages("low_confidence/reason")[-1].data == "input"
        served = serve(client, frame_message(good, "rgb8", index))
        assert served["segmentation"].header.frame_id == f"camera_{index}"
        assert process.poll() is None
    text = log.read_text()
    for error in bad:
        assert text.count(error) == 1, (error, text[-2000:])


def test_frames_missing_from_a_10_hz_camera_are_reported_lost_and_warned_once(node):
    client, _, log = node
    counters = ("frames", "dropped_frames", "failed_frames")

    def values() -> dict[str, str]:
        return {v.key: v.value for v in client.messages("diagnostics")[-1].status[0].values} \
            if client.messages("diagnostics") else {}

    wait_for(lambda: values(), 10, "diagnostics")
    before = sum(int(values()[key]) for key in counters)
    frame = np.zeros((32, 64, 3), np.uint8)
    for index in (index for index in range(60) if index % 3 != 2):  # every third never sent
        message = frame_message(frame, "rgb8", index)
        message.header.stamp.sec, tenths = divmod(20000 + index, 10)
        message.header.stamp.nanosec = tenths * 100_000_000
        client.image_pub.publish(message)
        time.sleep(0.02)
    wait_for(lambda: int(values().get("lost_frames", 0)) >= 15, 20, "lost frames in diagnostics")
    reported = values()
    counted = sum(int(reported[key]) for key in counters) - before
    assert int(reported["lost_frames"]) + counted <= 60  # never more than really missing
    assert float(reported["lost_frame_share"]) > 0.25
    assert float(reported["camera_period_ms"]) == pytest.approx(100, abs=1)
    wait_for(lambda: "never arrived" in log.read_text(), 10, "the frame-loss warning")
    text = log.read_text()
    assert text.count("never arrived") == 1 and "net.core.rmem_max" in text


def test_stale_camera_raises_the_flag_and_diagnostics_say_stale(tiny_onnx, tmp_path):
    environment = ros_environment()
    log = tmp_path / "node.log"
    process = start_node({"onnx": tiny_onnx, "stale_timeout_s": 0.5, "raise_frames": 1,
                          "clear_frames": 1, "scene_threshold": 1.0,
                          "diagnostics_period_s": 0.1}, environment, log)
    client = Client(environment)
    try:
        wait_for(client.connected, STARTUP_S, "the node's topics", process, log)
        client.handshake()
        frame = np.zeros((64, 128, 3), np.uint8)
        assert serve(client, frame_message(frame, "rgb8", 0))["low_confidence"].data is False
        client.clear()
        wait_for(lambda: any(m.status[0].level == b"\x03" for m in client.messages(
            "diagnostics")), 10, "diagnostics STALE")
        assert client.messages("low_confidence")[-1].data is True
        values = {v.key: v.value for v in client.messages("diagnostics")[-1].status[0].values}
        assert values["flag_reason"] == "stale_input" and values["reason"] == "input"
        assert client.messages("low_confidence/reason")[-1].data == "input"
    finally:
        client.close()
        stop(process)


def test_a_margin_conditioned_fed_u_with_its_prior_serves_what_pytorch_computes(tiny_data,
                                                                                 tmp_path):
    """`make real-model`'s FED-U configuration (margin condition, condition prior) from its
    checkpoint, exported by the node itself and run on onnxruntime."""
    from flowenedet_core.export.model_spec import ModelSpec
    from flowenedet_core.fed.detector import FEDConfig
    from flowenedet_core.runtime.pipeline import Pipeline

    from conftest import random_fed_checkpoint

    fed = random_fed_checkpoint(tiny_data["weights"], tmp_path / "fed", FEDConfig(
        variant="fed-u", num_blocks=2, margin=True, condition_prior=True))
    frame = np.random.default_rng(5).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    expected = Pipeline.create(ModelSpec("erfnet", tiny_data["weights"], (64, 128), fed=fed),
                               backend="torch").runtime.run(frame[None])
    environment = ros_environment()
    log = tmp_path / "node.log"
    process = start_node({"weights": tiny_data["weights"], "fed": fed, "input_size": [64, 128],
                          "backend": "onnxruntime", "artifacts_dir": tmp_path / "artifacts",
                          "threads": 1, "qos_reliability": "reliable"}, environment, log)
    client = Client(environment)
    try:
        wait_for(client.connected, STARTUP_S, "the node's topics", process, log)
        client.handshake()
        served = serve(client, frame_message(frame, "rgb8", 0))
        assert (as_array(served["segmentation"]) == expected["labels"][0]).mean() >= 0.999
        assert np.abs(as_array(served["uncertainty"]) - expected["uncertainty"][0]).max() <= 1e-4
    finally:
        client.close()
        stop(process)


@pytest.mark.parametrize(("parameters", "message"), [
    ({"weights": "/nonexistent/erfnet.pth"}, "backbone weights not found"),
    ({"weights": "/x.pth", "pixel_threshold": 3.0}, "pixel_threshold out of range"),
    ({"weights": "/x.pth", "roi": [0.5, 0.0, 0.4, 1.0]}, "0 <= x0 < x1 <= 1"),
    ({}, "set `weights`"),
])
def test_startup_with_bad_parameters_is_one_clear_line_and_exit_2(parameters, message, tmp_path):
    log = tmp_path / "node.log"
    process = start_node(parameters, ros_environment(), log)
    assert process.wait(60) == 2
    text = log.read_text()
    assert message in text and "Traceback" not in text
