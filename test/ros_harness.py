"""Real rclpy processes for the integration tests: the node in its own process, a client (this
process) that publishes frames, records every output and sets parameters. Each test gets its own
ROS domain on loopback; everything waits for discovery instead of sleeping a fixed time."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, String

from flowenedet_ros.image_conversion import rgb_to_compressed

REPO = Path(__file__).resolve().parents[1]
NODE = "/flowenedet_node"
OUTPUTS = {"segmentation": Image, "segmentation/color": Image, "uncertainty": Image,
           "ood_mask": Image, "low_confidence": Bool, "low_confidence/reason": String,
           "ood_instances": Image}
HEADERLESS = ("low_confidence", "low_confidence/reason")  # Bool / String: matched by order
STARTUP_S = 90.0  # python + torch + onnxruntime imports, ONNX export on 2 busy cores
_DOMAINS = itertools.count(100 + os.getpid() % 50)


def ros_environment() -> dict[str, str]:
    return {**os.environ, "ROS_DOMAIN_ID": str(next(_DOMAINS) % 230),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
            "PYTHONUNBUFFERED": "1"}


def parameter_arguments(parameters: dict) -> list[str]:
    arguments = ["--ros-args"]
    for name, value in parameters.items():
        text = str(value).lower() if isinstance(value, bool) else str(value).replace(" ", "")
        arguments += ["-p", f"{name}:={text}"]
    return arguments


def start_node(parameters: dict, environment: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "flowenedet_ros.node", *parameter_arguments(parameters)]
    return subprocess.Popen(command, env=environment, cwd=REPO, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen | None = None,
             log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"node exited ({process.returncode}) while waiting for {what}:\n"
                                 + (log.read_text()[-3000:] if log else ""))
        time.sleep(0.05)
    tail = log.read_text()[-3000:] if log else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


class Client:
    """Publishes to the node's ~/image and records everything it publishes."""

    def __init__(self, environment: dict[str, str], transport: str = "raw") -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=int(environment["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("test_client", context=self.context)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.received: dict[str, list] = defaultdict(list)
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # wall-clock seconds
        self._lock = threading.Lock()
        self.transport = transport  # the node's image_transport
        self.image_pub = self.node.create_publisher(
            *((Image, f"{NODE}/image") if transport == "raw"
              else (CompressedImage, f"{NODE}/image/compressed")), reliable)
        for topic, kind in OUTPUTS.items():
            self.node.create_subscription(kind, f"{NODE}/{topic}",
                                          self._recorder(topic), reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics",
                                      self._recorder("diagnostics"), reliable)
        self.parameters = AsyncParameterClient(self.node, NODE)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stopping = threading.Event()
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()

    def _spin(self) -> None:
        """Spin in short slices until `close`: joining this thread before tearing down rclpy
        avoids a shut-down executor busy-looping on destroyed entities (seen once in CI)."""
        while not self._stopping.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def _recorder(self, topic: str):
        def record(message) -> None:
            with self._lock:
                self.received[topic].append(message)
                self.arrivals[topic].append(time.time())
        return record

    def messages(self, topic: str) -> list:
        with self._lock:
            return list(self.received[topic])

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.arrivals.clear()

    def connected(self) -> bool:
        """The node subscribes to our images and publishes every output we listen to."""
        return (self.image_pub.get_subscription_count() > 0
                and all(self.node.count_publishers(f"{NODE}/{t}") > 0 for t in OUTPUTS))

    def handshake(self, timeout: float = 60.0) -> None:
        """Send a small frame every half second until every output has arrived once: the
        node's publishers may match our subscriptions later than we see them."""
        frame = frame_message(np.zeros((8, 8, 3), np.uint8), "rgb8", 0) \
            if self.transport == "raw" else compressed_message(np.zeros((8, 8, 3), np.uint8), 0)
        frame.header.frame_id = "handshake"
        deadline = time.monotonic() + timeout
        while not all(self.messages(topic) for topic in OUTPUTS):
            assert time.monotonic() < deadline, "outputs never arrived"
            self.image_pub.publish(frame)
            end = time.monotonic() + 0.5
            while time.monotonic() < end and not all(self.messages(t) for t in OUTPUTS):
                time.sleep(0.02)
        self.clear()

    def set_parameter(self, name: str, value):
        future = self.parameters.set_parameters([Parameter(name, value=value)])
        deadline = time.monotonic() + 10
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.done(), f"setting {name} timed out"
        return future.result().results[0]

    def close(self) -> None:
        self._stopping.set()
        self._spinner.join(10)
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def frame_message(array: np.ndarray, encoding: str, index: int, padding: int = 0) -> Image:
    rows = array.reshape(array.shape[0], -1)
    step = rows.shape[1] + padding
    data = np.zeros((rows.shape[0], step), np.uint8)
    data[:, :rows.shape[1]] = rows
    message = Image(height=array.shape[0], width=array.shape[1], encoding=encoding, step=step,
                    data=data.tobytes())
    message.header.stamp.sec, message.header.frame_id = 1000 + index, f"camera_{index}"
    return message


def compressed_message(rgb: np.ndarray, index: int, codec: str = "png") -> CompressedImage:
    fmt, data = rgb_to_compressed(rgb, codec)
    message = CompressedImage(format=fmt, data=data)
    message.header.stamp.sec, message.header.frame_id = 1000 + index, f"camera_{index}"
    return message


def serve(client: Client, message: Image, outputs=("segmentation", "uncertainty",
                                                   "low_confidence")) -> dict:
    """Send one frame and wait until each output for its header has arrived."""
    def arrived(topic):
        if topic in HEADERLESS:
            return len(client.messages(topic)) > 0
        return [m for m in client.messages(topic) if m.header == message.header]

    client.clear()
    client.image_pub.publish(message)
    wait_for(lambda: all(arrived(t) for t in outputs), 30, f"outputs of {message.header}")
    return {topic: (client.messages(topic)[-1] if topic in HEADERLESS
                    else arrived(topic)[0]) for topic in outputs}


def as_array(message: Image) -> np.ndarray:
    dtype = {"32FC1": np.float32, "mono16": np.uint16}.get(message.encoding, np.uint8)
    channels = 3 if message.encoding == "rgb8" else 1
    array = np.frombuffer(bytes(message.data), dtype=dtype)
    return array.reshape(message.height, message.width, channels).squeeze(-1) \
        if channels == 1 else array.reshape(message.height, message.width, 3)
