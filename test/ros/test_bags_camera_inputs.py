"""Bags as cameras and recorders write them: CompressedImage topics, zstd-compressed rosbag2
(per file and per message), ROS 1 type names, the camera topic chosen or listed, ROS 1 bags,
depth beside colour."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bag_commands import make_bag, replay
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

from flowenedet_core.errors import DataError
from flowenedet_ros.bags.compare import compare_outputs
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import (
    TYPESTORE,
    bool_record,
    camera_record,
    serialize,
    stamp_ns,
)
from flowenedet_ros.bags.replay import ReplayOptions, choose_topics
from flowenedet_ros.bags.writer import BagWriter
from flowenedet_ros.cli import main
from flowenedet_ros.image_conversion import message_to_rgb

RNG = np.random.default_rng(5)
FRAMES = [RNG.integers(0, 256, (48, 96, 3), dtype=np.uint8) for _ in range(3)]


def write_rosbags_bag(path: Path, topics: dict[str, str], storage=StoragePlugin.MCAP,
                      compression=CompressionMode.MESSAGE) -> Path:
    """FRAMES on each topic (-> encoding, or jpeg / png), written by rosbags itself with a ROS 1
    style type name (`sensor_msgs/Image`), as some converters write it."""
    writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=storage)
    writer.set_compression(compression, CompressionFormat.ZSTD)
    writer.open()
    for topic, encoding in topics.items():
        records = [camera_record(frame, encoding, 10**9 * (i + 1), "cam")
                   for i, frame in enumerate(FRAMES)]
        msgtype = records[0].__msgtype__
        connection = writer.add_connection(
            topic, msgtype.replace("/msg/", "/"),
            msgdef=TYPESTORE.generate_msgdef(msgtype, ros_version=2)[0],
            rihs01=TYPESTORE.hash_rihs01(msgtype))
        for record in records:
            writer.write(connection, stamp_ns(record.header), serialize(record))
    writer.close()
    return path


@pytest.mark.parametrize(("storage", "compression"), [("mcap", "message"), ("sqlite3", "file")])
def test_zstd_bags_of_png_frames_replay_identically_to_raw_frames(tiny_data, tiny_onnx, tmp_path,
                                                                  storage, compression):
    raw = make_bag(tiny_data, tmp_path / "raw")
    compressed = make_bag(tiny_data, tmp_path / "png", "--compressed", "png", "--storage",
                          storage, "--compression", compression)
    with BagSource(compressed) as source:
        assert source.contents.topics["/camera/image_raw/compressed"] == \
            "sensor_msgs/msg/CompressedImage"
        metadata = (compressed / "metadata.yaml").read_text()
    assert f"compression_mode: {compression}" in metadata.lower()
    assert replay(raw, tiny_onnx, tmp_path / "raw_out")[0] == 0
    code, summary = replay(compressed, tiny_onnx, tmp_path / "png_out")
    assert code == 0 and summary["frames"]["served"] == 3
    assert summary["camera_topic"] == "/camera/image_raw/compressed"
    assert summary["metrics"]["frames"] == 2  # labels still found and scored
    difference = compare_outputs(tmp_path / "raw_out" / "bag", tmp_path / "png_out" / "bag")
    assert difference.matched == 3 and difference.label_mismatched_pixels == 0
    assert difference.max_uncertainty_difference <= 1e-6


@pytest.mark.parametrize("compression", [CompressionMode.MESSAGE, CompressionMode.FILE,
                                         CompressionMode.STORAGE])
def test_rosbags_written_zstd_bags_with_ros1_type_names_are_read(tmp_path, compression):
    bag = write_rosbags_bag(tmp_path / "bag", {"/front/image/compressed": "png",
                                               "/rear/image": "bayer_rggb8"},
                            compression=compression)
    with BagSource(bag) as source:
        assert source.contents.topics == {
            "/front/image/compressed": "sensor_msgs/msg/CompressedImage",
            "/rear/image": "sensor_msgs/msg/Image"}
        messages = list(source.messages({"/front/image/compressed"}))
        assert not source.problems
    assert len(messages) == 3
    for item, frame in zip(messages, FRAMES, strict=True):
        assert np.array_equal(message_to_rgb(item.message), frame)


def test_two_camera_topics_are_listed_with_types_and_counts(tmp_path):
    bag = write_rosbags_bag(tmp_path / "bag", {"/front/image/compressed": "jpeg",
                                               "/rear/image": "yuv422"})
    with BagSource(bag) as source:
        with pytest.raises(DataError, match=r"2 camera topics, choose one with --topic: "
                           r"/front/image/compressed \(sensor_msgs/msg/CompressedImage, 3 "
                           r"messages\), /rear/image \(sensor_msgs/msg/Image, 3 messages\)"):
            choose_topics(source, ReplayOptions())
        assert choose_topics(source, ReplayOptions(camera_topic="/rear/image"))[0] == \
            "/rear/image"


def test_replay_serves_a_jpeg_topic_of_a_message_compressed_bag(tiny_onnx, tmp_path):
    bag = write_rosbags_bag(tmp_path / "bag", {"/cam/compressed": "jpeg"})
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 0 and summary["frames"] == {"read": 3, "served": 3, "dropped": 0,
                                               "failed": 0, "lost": 0}


def test_a_corrupt_compressed_frame_is_flagged_and_the_next_one_served(tiny_onnx, tmp_path):
    bag = tmp_path / "bag"
    writer = Writer(bag, version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    connection = writer.add_connection("/cam/compressed", "sensor_msgs/msg/CompressedImage",
                                       typestore=TYPESTORE)
    for index, frame in enumerate(FRAMES):
        record = camera_record(frame, "png", 10**9 * (index + 1), "cam")
        if index == 1:
            record.data = record.data[: len(record.data) // 2]
        writer.write(connection, 10**9 * (index + 1), serialize(record))
    writer.close()
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 1 and summary["frames"] == {"read": 3, "served": 2, "dropped": 0,
                                               "failed": 1, "lost": 0}
    assert len(summary["problems"]) == 1 and "cannot be decoded" in summary["problems"][0]
    assert [entry[2] for entry in summary["flag"]["timeline"]][1] is True


def test_make_bag_writes_the_encodings_of_the_table(tiny_data, tmp_path):
    for encoding in ("bayer_gbrg16", "nv21", "yuv422_yuy2", "mono16"):
        bag = make_bag(tiny_data, tmp_path / encoding, "--encoding", encoding)
        with BagSource(bag) as source:
            image = next(iter(source.messages({"/camera/image_raw"}))).message
        assert image.encoding == encoding and message_to_rgb(image).shape == (48, 96, 3)


def test_ros1_realsense_bag_replays_colour_and_depth(realsense_bag, tiny_onnx, tmp_path, capsys):
    with BagSource(realsense_bag) as source, pytest.raises(
            DataError, match=r"2 camera topics.*Depth_0/image/data \(sensor_msgs/msg/Image, 2 "
            r"messages\)"):
        choose_topics(source, ReplayOptions())
    colour = "/device_0/sensor_1/Color_0/image/data"
    code, summary = replay(realsense_bag, tiny_onnx, tmp_path / "colour", "--topic", colour)
    assert code == 0 and summary["frames"] == {"read": 1, "served": 1, "dropped": 0,
                                               "failed": 0, "lost": 0}
    assert (tmp_path / "colour" / "report.html").stat().st_size > 1000
    with BagSource(tmp_path / "colour" / "bag") as source:
        labels = [m.message for m in source.messages({"/flowenedet_node/segmentation"})]
    assert [(m.height, m.width, m.header.frame_id) for m in labels] == [(480, 640, "0")]
    assert stamp_ns(labels[0].header) == 360_713_523_000
    depth = "/device_0/sensor_0/Depth_0/image/data"
    code, summary = replay(realsense_bag, tiny_onnx, tmp_path / "depth", "--topic", depth)
    assert code == 0 and summary["frames"] == {"read": 2, "served": 2, "dropped": 0,
                                               "failed": 0, "lost": 0}
    assert "2 of 2 frames served" in capsys.readouterr().out


def test_a_bag_without_a_camera_topic_lists_its_topics(tmp_path):
    with BagWriter(tmp_path / "bag") as writer:
        writer.write("/flag", 1, bool_record(True))
    with BagSource(tmp_path / "bag") as source, pytest.raises(
            DataError, match=r"no Image or CompressedImage camera topic; topics: /flag "
            r"\(std_msgs/msg/Bool, 1 messages\)"):
        choose_topics(source, ReplayOptions())


def depth_record(stamp: int, kind: str):
    """A 48x96 depth map in millimetres as a depth camera driver publishes it: `raw` 16UC1,
    `png` image_transport's PNG of it, `compressedDepth` its compressedDepth plugin."""
    depth = (np.arange(48 * 96, dtype=np.uint16).reshape(48, 96) * 7)
    types, header = TYPESTORE.types, camera_record(FRAMES[0], "rgb8", stamp, "depth").header
    if kind == "raw":
        return types["sensor_msgs/msg/Image"](
            header=header, height=48, width=96, encoding="16UC1", is_bigendian=0, step=192,
            data=np.frombuffer(depth.tobytes(), np.uint8))
    data = np.frombuffer(cv2.imencode(".png", depth)[1].tobytes(), np.uint8)
    fmt = "16UC1; png compressed " if kind == "png" else "16UC1; compressedDepth png"
    return types["sensor_msgs/msg/CompressedImage"](header=header, format=fmt, data=data)


def colour_and_depth_bag(path: Path, kind: str, colour: bool = True) -> Path:
    with BagWriter(path) as writer:
        for index, frame in enumerate(FRAMES):
            stamp = 10**9 * (index + 1)
            if colour:
                writer.write("/color/image_raw", stamp,
                             camera_record(frame, "rgb8", stamp, "color"))
            writer.write("/depth/image_raw" + ("" if kind == "raw" else "/compressed"), stamp,
                         depth_record(stamp, kind))
    return path


@pytest.mark.parametrize("kind", ["raw", "png", "compressedDepth"])
def test_depth_beside_colour_is_never_the_camera_and_is_refused_naming_the_colour_topic(
        tiny_onnx, tmp_path, capsys, kind):
    bag = colour_and_depth_bag(tmp_path / "bag", kind)
    code, summary = replay(bag, tiny_onnx, tmp_path / "out")
    assert code == 0 and summary["camera_topic"] == "/color/image_raw"
    assert summary["frames"] == {"read": 3, "served": 3, "dropped": 0, "failed": 0, "lost": 0}
    depth = "/depth/image_raw" + ("" if kind == "raw" else "/compressed")
    capsys.readouterr()
    assert main(["replay", str(bag), "--topic", depth, "-p", f"onnx:={tiny_onnx}"]) == 2
    errors = capsys.readouterr().err.splitlines()
    what = {"raw": "16UC1", "png": "16UC1; png", "compressedDepth": "compressedDepth"}[kind]
    assert errors == [f"flowenedet: error: {bag}: {depth}: {what} is a depth image, not a "
                      "camera frame: the model needs a colour or grey camera (an encoding of "
                      "the conversion table, or jpeg / png of one); colour topics of this bag: "
                      "/color/image_raw (sensor_msgs/msg/Image, 3 messages)"]


def test_a_bag_of_depth_only_is_refused_and_make_bag_writes_no_depth(tiny_data, tiny_onnx,
                                                                     tmp_path, capsys):
    bag = colour_and_depth_bag(tmp_path / "bag", "png", colour=False)
    assert main(["replay", str(bag), "-p", f"onnx:={tiny_onnx}"]) == 2
    assert main(["make-bag", str(tmp_path / "made"), "--data", f"anomaly:{tiny_data['anomaly']}",
                 "--encoding", "32FC1"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and errors[0].endswith("colour topics of this bag: none")
    assert "/depth/image_raw/compressed: 16UC1; png is a depth image" in errors[0]
    assert errors[1] == ("flowenedet: error: 32FC1 is a depth image, not a camera frame: the "
                         "model needs a colour or grey camera (an encoding of the conversion "
                         "table, or jpeg / png of one)")
    assert not (tmp_path / "made").exists()
