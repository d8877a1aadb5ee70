"""Live mode: play a bag's camera topic into the running node at its recorded rate, and record
the node's outputs into a new bag — what `ros2 bag play` + `ros2 bag record` do on a full ROS
install (the PyPI ROS has no `ros2` CLI).

Messages travel as the CDR bytes stored in the bag (rclpy publishes serialized messages as they
are) and are recorded as the CDR bytes received, so nothing is converted on the way. Labels in the
source bag are copied into the recording, so it can be evaluated and calibrated like a replay.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, String

from flowenedet_core.errors import DataError

from .reader import BagSource
from .records import CAMERA_TYPES, COMPRESSED_IMAGE, OUTPUT_TYPES, output_topics
from .replay import ReplayOptions, choose_topics
from .writer import BagWriter

LOGGER = logging.getLogger(__name__)
ROS_TYPES = {"sensor_msgs/msg/Image": Image, COMPRESSED_IMAGE: CompressedImage,
             "std_msgs/msg/Bool": Bool, "std_msgs/msg/String": String,
             "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray}
RECORD_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
PLAY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@dataclass(frozen=True)
class LiveOptions:
    node: str = "/flowenedet_node"  # the running node; frames go to NODE/image (compressed:
    # NODE/image/compressed, for a node started with image_transport:=compressed)
    camera_topic: str | None = None  # in the bag (default: its only camera topic)
    rate: float = 1.0  # playback speed factor, as `ros2 bag play --rate`
    discovery_timeout_s: float = 60.0
    linger_s: float = 10.0  # after the last frame, wait this long without new output
    storage: str = "mcap"


@dataclass
class LiveResult:
    published: int = 0
    recorded: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """Frames the node did not answer (it serves the latest frame and drops stale ones)."""
        return self.published - self.recorded.get("segmentation", 0)


class _Recorder:
    """Subscribes to the node's outputs and writes each message's CDR bytes to the bag."""

    def __init__(self, ros_node, writer: BagWriter, topics: dict[str, str]) -> None:
        self.writer = writer
        self.lock = threading.Lock()
        self.last_message = time.monotonic()
        self.counts = dict.fromkeys(topics, 0)
        self.subscriptions = [
            ros_node.create_subscription(ROS_TYPES[OUTPUT_TYPES[name]], topic,
                                         self._callback(name, topic), RECORD_QOS, raw=True)
            for name, topic in topics.items()]
        self.clock = ros_node.get_clock()

    def _callback(self, name: str, topic: str):
        msgtype = OUTPUT_TYPES[name]

        def record(data: bytes) -> None:
            with self.lock:
                self.writer.write_raw(topic, msgtype, self.clock.now().nanoseconds, data)
                self.counts[name] += 1
                if name == "segmentation":  # not the flag: the node repeats it when input stops
                    self.last_message = time.monotonic()

        return record

    def connected(self) -> bool:
        """Every output has a publisher (diagnostics: the node's, or any)."""
        return all(s.get_publisher_count() > 0 for s in self.subscriptions)


def play_and_record(bag: str | Path, output: str | Path,
                    options: LiveOptions = LiveOptions()) -> LiveResult:
    """Publish the camera frames of `bag` to `options.node`/image with their recorded spacing
    (divided by `rate`) and record the node's outputs into `output`. rclpy must be initialised."""
    if options.rate <= 0:
        raise DataError(f"rate must be > 0, got {options.rate}")
    result = LiveResult()
    ros_node = rclpy.create_node("flowenedet_player")
    executor = SingleThreadedExecutor()
    executor.add_node(ros_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    with BagSource(bag) as source, BagWriter(output, options.storage,
                                             source.contents.custom) as writer:
        camera, label_topic, _ = choose_topics(
            source, ReplayOptions(camera_topic=options.camera_topic))
        camera_type = source.contents.topics[camera]
        image_topic = f"{options.node.rstrip('/')}/image" + (
            "/compressed" if camera_type == COMPRESSED_IMAGE else "")
        publisher = ros_node.create_publisher(ROS_TYPES[camera_type], image_topic, PLAY_QOS)
        recorder = _Recorder(ros_node, writer, output_topics(options.node))
        spinner.start()
        try:
            _wait_for_node(ros_node, publisher, recorder, image_topic,
                           options.discovery_timeout_s)
            result.published = _play(source, camera, label_topic, publisher, writer, recorder,
                                     options.rate)
            _linger(recorder, options.linger_s, result.published)
        finally:
            executor.shutdown()
            spinner.join(timeout=5)
            ros_node.destroy_node()
            with recorder.lock:
                result.recorded = dict(recorder.counts)
        result.problems = source.problems
    LOGGER.info("played %d frames into %s, recorded %s (%d not answered)", result.published,
                image_topic, result.recorded, result.dropped)
    return result


def _wait_for_node(ros_node, publisher, recorder: _Recorder, image_topic: str,
                   timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if publisher.get_subscription_count() > 0 and recorder.connected():
            if any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                   for info in ros_node.get_subscriptions_info_by_topic(image_topic)):
                LOGGER.warning("the node subscribes %s best-effort (sensor-data QoS): with Fast "
                               "DDS, frames over ~0.5 MB are lost to fragmentation there; start "
                               "it with qos_reliability:=reliable to replay every frame",
                               image_topic)
            return
        time.sleep(0.05)
    raise DataError(f"no node subscribed to {image_topic} and publishing its outputs within "
                    f"{timeout:.0f} s: is flowenedet_node running (same ROS_DOMAIN_ID"
                    + (", image_transport:=compressed" if image_topic.endswith("/compressed")
                       else "") + ")?")


def _play(source: BagSource, camera: str, label_topic: str | None, publisher,
          writer: BagWriter, recorder: _Recorder, rate: float) -> int:
    published, first_record, started = 0, None, time.monotonic()
    wanted = {camera} | ({label_topic} if label_topic else set())
    for topic, timestamp, msgtype, data in source.raw_messages(wanted):
        if topic == label_topic:
            with recorder.lock:
                writer.write_raw(topic, msgtype, timestamp, data)
            continue
        if msgtype not in CAMERA_TYPES:
            continue
        first_record = timestamp if first_record is None else first_record
        delay = started + (timestamp - first_record) / 1e9 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(bytes(data))
        published += 1
    return published


def _linger(recorder: _Recorder, linger_s: float, published: int) -> None:
    """Wait until every frame is answered, or no output came for `linger_s`."""
    while True:
        with recorder.lock:
            answered = min(recorder.counts["segmentation"], recorder.counts["low_confidence"])
            idle = time.monotonic() - recorder.last_message
        if answered >= published or idle > linger_s:
            return
        time.sleep(0.05)
