"""Live mode: play a bag's camera topic into the running node at its recorded rate, and record
the node's outputs into a new bag — what `ros2 bag play` + `ros2 bag record` do on a full ROS
install (the PyPI ROS has no `ros2` CLI).

Messages travel as the CDR bytes stored in the bag (rclpy publishes serialized messages as they
are) and are recorded as the CDR bytes received, so nothing is converted on the way; a message
that cannot be decoded is not published but counted as failed. Labels in the source bag are copied
into the recording, so it can be evaluated and calibrated like a replay. Every frame played is
counted as the node counts it on /diagnostics (its counters before and after the play): served,
dropped by its latest-frame rule, or failed.
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
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, String

from flowenedet_core.errors import DataError

from .reader import BagSource, decode
from .records import COMPRESSED_IMAGE, OUTPUT_TYPES, output_topics
from .replay import ReplayOptions, choose_topics
from .writer import BagWriter

LOGGER = logging.getLogger(__name__)
ROS_TYPES = {"sensor_msgs/msg/Image": Image, COMPRESSED_IMAGE: CompressedImage,
             "std_msgs/msg/Bool": Bool, "std_msgs/msg/String": String,
             "diagnostic_msgs/msg/DiagnosticArray": DiagnosticArray}
RECORD_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
PLAY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
NODE_COUNTERS = {"served": "frames", "dropped": "dropped_frames", "failed": "failed_frames",
                 "lost": "lost_frames"}


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
    served: int = 0  # by the node, during this play
    dropped: int = 0  # by the node's latest-frame rule
    failed: int = 0  # by the node (unconvertible), or not published (undecodable)
    lost: int = 0  # never arrived, as the node estimates from gaps in the frames' stamps
    recorded: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class _Recorder:
    """Subscribes to the node's outputs and writes each message's CDR bytes to the bag."""

    def __init__(self, ros_node, writer: BagWriter, topics: dict[str, str],
                 status_name: str) -> None:
        self.writer = writer
        self.lock = threading.Lock()
        self.last_message = time.monotonic()
        self.counts = dict.fromkeys(topics, 0)
        self.status_name = status_name  # the node's DiagnosticStatus
        self.node_counts: dict[str, int] | None = None  # its frame counters, latest
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
                if name == "diagnostics":
                    self._node_counts(data)

        return record

    def _node_counts(self, data: bytes) -> None:
        for status in deserialize_message(data, DiagnosticArray).status:
            if status.name == self.status_name:
                values = {v.key: v.value for v in status.values}
                counts = {name: int(values.get(key, 0)) for name, key in NODE_COUNTERS.items()}
                if counts != self.node_counts:
                    self.last_message = time.monotonic()
                self.node_counts = counts

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
    with BagSource(bag) as source:
        camera, label_topic, _ = choose_topics(  # refused before anything is created
            source, ReplayOptions(camera_topic=options.camera_topic))
        camera_type = source.contents.topics[camera]
        image_topic = f"{options.node.rstrip('/')}/image" + (
            "/compressed" if camera_type == COMPRESSED_IMAGE else "")
        ros_node = rclpy.create_node("flowenedet_player")
        executor = SingleThreadedExecutor()
        executor.add_node(ros_node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        with BagWriter(output, options.storage, source.contents.custom) as writer:
            publisher = ros_node.create_publisher(ROS_TYPES[camera_type], image_topic, PLAY_QOS)
            status_name = f"{options.node.rstrip('/').rsplit('/', 1)[-1]}: uncertainty"
            recorder = _Recorder(ros_node, writer, output_topics(options.node), status_name)
            spinner.start()
            try:
                before = _wait_for_node(ros_node, publisher, recorder, image_topic,
                                        options.discovery_timeout_s)
                result.published, undecodable = _play(source, camera, label_topic, publisher,
                                                      writer, recorder, options.rate)
                _linger(recorder, options.linger_s, before, result.published)
            finally:
                executor.shutdown()
                spinner.join(timeout=5)
                ros_node.destroy_node()
                with recorder.lock:
                    result.recorded = dict(recorder.counts)
                    after = recorder.node_counts
        result.problems = source.problems + undecodable
    _count(result, before, after, len(undecodable))
    LOGGER.info("played %d frames into %s: %d served, %d dropped, %d failed, %d lost; "
                "recorded %s", result.published, image_topic, result.served, result.dropped,
                result.failed, result.lost, result.recorded)
    return result


def _count(result: LiveResult, before: dict[str, int], after: dict[str, int] | None,
           undecodable: int) -> None:
    """The node's counters over the play; what it never counted is named a problem."""
    after = after or before
    for name in NODE_COUNTERS:
        setattr(result, name, after[name] - before[name])
    unaccounted = result.published - result.served - result.dropped - result.failed
    result.failed += undecodable
    if unaccounted > 0:
        result.problems.append(f"{unaccounted} of {result.published} frames played were not "
                               "counted by the node (lost on the way, or still in flight when "
                               "the recording stopped)")


def _wait_for_node(ros_node, publisher, recorder: _Recorder, image_topic: str,
                   timeout: float) -> dict[str, int]:
    """Waits until the node subscribes, publishes its outputs and has reported its frame
    counters once; returns those counters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with recorder.lock:
            counters = recorder.node_counts
        if publisher.get_subscription_count() > 0 and recorder.connected() and counters:
            if any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                   for info in ros_node.get_subscriptions_info_by_topic(image_topic)):
                LOGGER.warning("the node subscribes %s best-effort (sensor-data QoS): with Fast "
                               "DDS, frames over ~0.5 MB are lost to fragmentation there; start "
                               "it with qos_reliability:=reliable to replay every frame",
                               image_topic)
            return dict(counters)
        time.sleep(0.05)
    raise DataError(f"no node subscribed to {image_topic} and publishing its outputs and "
                    f"diagnostics within {timeout:.0f} s: is flowenedet_node running (same "
                    "ROS_DOMAIN_ID"
                    + (", image_transport:=compressed" if image_topic.endswith("/compressed")
                       else "") + ")?")


def _play(source: BagSource, camera: str, label_topic: str | None, publisher,
          writer: BagWriter, recorder: _Recorder, rate: float) -> tuple[int, list[str]]:
    """Publishes the camera messages at their recorded spacing; returns how many, and one line
    for each that could not be decoded (not published)."""
    published, first_record, started = 0, None, time.monotonic()
    undecodable: list[str] = []
    wanted = {camera} | ({label_topic} if label_topic else set())
    for stored in source.raw_messages(wanted):
        if stored.topic == label_topic:
            if not stored.error:
                with recorder.lock:
                    writer.write_raw(stored.topic, stored.msgtype, stored.timestamp,
                                     stored.data)
            continue
        error = decode(stored).error  # what the node's subscription would choke on
        if error:
            undecodable.append(f"{camera} message at {stored.timestamp} ns {error}; not played")
            LOGGER.error(undecodable[-1])
            continue
        first_record = stored.timestamp if first_record is None else first_record
        delay = started + (stored.timestamp - first_record) / 1e9 / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(bytes(stored.data))
        published += 1
    return published, undecodable


def _linger(recorder: _Recorder, linger_s: float, before: dict[str, int],
            published: int) -> None:
    """Wait until the node has counted every frame played, or nothing changed for
    `linger_s`."""
    while True:
        with recorder.lock:
            counted = sum(recorder.node_counts[name] - before[name] for name in NODE_COUNTERS)
            idle = time.monotonic() - recorder.last_message
        if counted >= published or idle > linger_s:
            return
        time.sleep(0.05)
