"""`flowenedet_node`: camera image in; segmentation, uncertainty, OOD mask, scene flag, its
reason, anomaly instances and diagnostics out. The algorithm lives in flowenedet_core (Pipeline),
scene_flag and frame_reason; this module only wires them to ROS."""

from __future__ import annotations

import re
import sys
import threading
import time

import rclpy
import rclpy.executors
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy._rclpy_pybind11 import RCLError, UnknownROSArgsError
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, String

from flowenedet_core.errors import FlowenedetError

from .diagnostics import FrameStats, diagnostic_status, reason_values
from .errors import ParameterError
from .frame_loss import FrameLoss, FrameLossEstimator, loss_warning
from .frame_reason import INPUT, frame_reason
from .frame_worker import LatestFrameWorker
from .image_conversion import describe_message, message_to_rgb
from .messages import diagnostic_array, image_message
from .node_usage import missing_parameter_files, usage, wants_help
from .output_images import colorize, ood_mask, resize_instances
from .parameters import BY_NAME, PARAMETERS, ParameterSpec
from .pipeline_factory import (
    create_pipeline,
    flag_config,
    flag_values,
    meta_classifier,
    reason_config,
)
from .scene_flag import REASON_STALE, SceneFlag

OUTPUT_QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
# image_transport -> (message type, topic): the names image_transport's subscribers use
TRANSPORTS = {"raw": (Image, "~/image"), "compressed": (CompressedImage, "~/image/compressed")}
ERROR_LOG_PERIOD_S = 5.0


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """rclpy enforces ranges (scalars) and read_only itself; arrays and choices are checked in
    the set-parameters callback."""
    result = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
    if spec.choices:
        result.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if spec.kind == "double" and spec.minimum is not None:
        result.floating_point_range = [FloatingPointRange(
            from_value=float(spec.minimum), to_value=float(spec.maximum), step=0.0)]
    if spec.kind == "int" and spec.minimum is not None:
        result.integer_range = [IntegerRange(
            from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return result


class ErrorLog:
    """One log line per kind of error per period (kinds: the message with numbers removed)."""

    def __init__(self, logger, period_s: float = ERROR_LOG_PERIOD_S) -> None:
        self._logger = logger
        self._period = period_s
        self._last: dict[str, float] = {}

    def error(self, message: str) -> None:
        kind = re.sub(r"\d+", "#", message)
        now = time.monotonic()
        if now - self._last.get(kind, -self._period) >= self._period:
            self._last[kind] = now
            self._logger.error(message)


class FlowenedetNode(Node):
    def __init__(self, **kwargs) -> None:
        self.worker: LatestFrameWorker | None = None  # set last: startup may fail before it
        super().__init__("flowenedet_node", **kwargs)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, descriptor(spec))
        self.values = {spec.name: spec.validate(self.get_parameter(spec.name).value)
                       for spec in PARAMETERS}
        self.flag = SceneFlag(flag_config(self.values), time.monotonic())
        self.reason_config = reason_config(self.values)
        self.meta_classifier = meta_classifier(self.values)
        self.add_on_set_parameters_callback(self.parameters_callback)
        self.pipeline = create_pipeline(self.values)
        self.stats = FrameStats()
        self.loss = FrameLossEstimator()  # used by the executor thread only
        self._loss_reported = False
        self.errors = ErrorLog(self.get_logger())
        self._lock = threading.Lock()
        self._flag_lock = threading.Lock()

        self.segmentation_pub = self.create_publisher(Image, "~/segmentation", OUTPUT_QOS)
        self.color_pub = self.create_publisher(Image, "~/segmentation/color", OUTPUT_QOS)
        self.uncertainty_pub = self.create_publisher(Image, "~/uncertainty", OUTPUT_QOS)
        self.ood_pub = self.create_publisher(Image, "~/ood_mask", OUTPUT_QOS)
        self.flag_pub = self.create_publisher(Bool, "~/low_confidence", OUTPUT_QOS)
        self.reason_pub = self.create_publisher(String, "~/low_confidence/reason", OUTPUT_QOS)
        self.instances_pub = self.create_publisher(Image, "~/ood_instances", OUTPUT_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        self.worker = LatestFrameWorker(self.process_frame)
        image_qos = QoSProfile(depth=self.values["qos_depth"],
                               reliability=ReliabilityPolicy.RELIABLE
                               if self.values["qos_reliability"] == "reliable"
                               else qos_profile_sensor_data.reliability,
                               durability=qos_profile_sensor_data.durability,
                               history=qos_profile_sensor_data.history)
        message_type, topic = TRANSPORTS[self.values["image_transport"]]
        self.image_sub = self.create_subscription(message_type, topic, self.image_callback,
                                                  image_qos)
        self._started = time.monotonic()
        self._silence_reported = False
        self.diagnostics_timer = self.create_timer(self.values["diagnostics_period_s"],
                                                   self.diagnostics_callback)
        self.get_logger().info(f"listening on {self.image_sub.topic_name} "
                               f"(sensor_msgs/{message_type.__name__}); serving it with "
                               f"{self.pipeline.describe()} ({self.pipeline.reason}), model "
                               f"input {self.pipeline.image_size[0]}x"
                               f"{self.pipeline.image_size[1]}")

    def parameters_callback(self, parameters) -> SetParametersResult:
        """Validate every change (types, ranges, choices, the ROI as a whole) before it lands."""
        updated = dict(self.values)
        try:
            for parameter in parameters:
                spec = BY_NAME.get(parameter.name)
                if spec is None:
                    continue  # rclpy's own (use_sim_time, qos overrides)
                updated[parameter.name] = spec.validate(parameter.value)
            reasons = reason_config(updated)  # validates the component settings together
            self.flag.reconfigure(**flag_values(updated))  # validates; keeps old on error
        except ParameterError as error:
            self.get_logger().warning(f"parameter change rejected: {error}")
            return SetParametersResult(successful=False, reason=str(error))
        self.values, self.reason_config = updated, reasons
        return SetParametersResult(successful=True)

    def image_callback(self, message: Image | CompressedImage) -> None:
        stamp = message.header.stamp
        self.loss.update(stamp.sec + stamp.nanosec * 1e-9)
        self.worker.submit((message, time.monotonic()))  # decoded by the worker, if not dropped

    def process_frame(self, item: tuple[Image | CompressedImage, float]) -> None:
        message, received = item
        try:
            image = message_to_rgb(message, self.values["max_pixels"])
            prediction = self.pipeline.infer(image)
        except (FlowenedetError, MemoryError, RuntimeError) as error:
            self._fail(f"{self.image_sub.topic_name}: frame {message.header.frame_id!r} "
                       f"{describe_message(message)}: {error}")
            return
        except Exception as error:  # inference libraries raise their own types
            self._fail(f"inference failed: {type(error).__name__}: {error}")
            return
        header = message.header
        publish_optional = (self.values["publish_color"], self.values["publish_ood_mask"])
        self.segmentation_pub.publish(image_message(prediction.labels, header))
        self.uncertainty_pub.publish(image_message(prediction.uncertainty, header))
        if publish_optional[0] and self.color_pub.get_subscription_count():
            self.color_pub.publish(image_message(colorize(prediction.labels), header))
        if publish_optional[1] and self.ood_pub.get_subscription_count():
            threshold = self.values["pixel_threshold"]
            self.ood_pub.publish(image_message(ood_mask(prediction.uncertainty, threshold),
                                               header))
        judged = frame_reason(image, prediction.model_uncertainty, prediction.model_labels,
                              self.reason_config, self.meta_classifier)
        reason = judged.reason
        if self.values["publish_ood_instances"] and self.instances_pub.get_subscription_count():
            self.instances_pub.publish(image_message(
                resize_instances(judged.components.instances(), prediction.labels.shape),
                header))
        now = time.monotonic()
        state = self.flag.update(prediction.uncertainty, now)
        self._publish_flag(state.raised, reason)
        with self._lock:
            self.stats.frames += 1
            self.stats.last_latency_ms = (now - received) * 1e3
            self.stats.reason = reason_values(reason, judged, prediction.labels.shape)

    def _publish_flag(self, raised: bool, reason: str) -> None:
        """The flag, then its reason, as one pair (the worker and the stale check both publish):
        a subscriber pairs each reason with the Bool before it (std_msgs/String has no header)."""
        with self._flag_lock:
            self.flag_pub.publish(Bool(data=raised))
            self.reason_pub.publish(String(data=reason))

    def _fail(self, message: str) -> None:
        self.errors.error(message)
        now = time.monotonic()
        state = self.flag.fail(message, now)
        self._publish_flag(state.raised, INPUT)
        with self._lock:
            self.stats.reason = reason_values(INPUT, None, (1, 1))
            self.stats.failures += 1
            self.stats.last_error, self.stats.last_error_time = message, now

    def diagnostics_callback(self) -> None:
        now = time.monotonic()
        state = self.flag.state(now)
        if state.reason == REASON_STALE:
            self._publish_flag(True, INPUT)  # silence must not read as "all fine"
        self._report_silence(now)
        loss = self.loss.snapshot()
        self._report_loss(loss)
        with self._lock:
            stats = FrameStats(**self.stats.__dict__)
        level, text, values = diagnostic_status(state, stats, self.worker.dropped, loss,
                                                self.pipeline.describe(), now,
                                                self.values["diagnostics_period_s"])
        self.diagnostics_pub.publish(diagnostic_array(
            self.get_clock().now().to_msg(), f"{self.get_name()}: uncertainty",
            self.pipeline.backend, level, text, values))

    def _report_silence(self, now: float) -> None:
        """Once, when no frame came within stale_timeout_s of start-up: say why it may be."""
        if self._silence_reported or self.worker.received or \
                now - self._started < self.values["stale_timeout_s"]:
            return
        self._silence_reported = True
        topic, private = self.image_sub.topic_name, TRANSPORTS[self.values["image_transport"]][1]
        publishers = self.count_publishers(topic)
        hint = (f"check the remap (quoted, or a shell expands ~: -r '{private}:=/camera/...')"
                if publishers == 0 else "check QoS (qos_reliability) and image_transport")
        self.get_logger().warning(f"no frame on {topic} within stale_timeout_s="
                                  f"{self.values['stale_timeout_s']:g} s; {publishers} "
                                  f"publisher(s) there: {hint}")

    def _report_loss(self, loss: FrameLoss) -> None:
        """Once, when many of the camera's frames never arrive: the cause and the remedy."""
        if self._loss_reported:
            return
        warning = loss_warning(loss, self.image_sub.topic_name, self.values["qos_reliability"])
        if warning is not None:
            self._loss_reported = True
            self.get_logger().warning(warning)

    def destroy_node(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """`flowenedet_node [--ros-args ...]`: 0 after a clean shutdown; 2 (one error line, no
    traceback) when it cannot start."""
    args = sys.argv if args is None else args
    if wants_help(args[1:]):
        print(usage())
        return 0
    missing = missing_parameter_files(args[1:])
    if missing:
        print(f"flowenedet_node: cannot start: parameter file {missing[0]} not found",
              file=sys.stderr)
        return 2
    try:
        rclpy.init(args=args)
    except UnknownROSArgsError as error:
        print(f"flowenedet_node: cannot start: unknown ROS argument(s) {error}", file=sys.stderr)
        return 2
    except RCLError as error:  # rcl has logged what it could not parse; its sources are noise
        text = " ".join(re.sub(r", at \S+:\d+", "", str(error)).split())
        print(f"flowenedet_node: cannot start: {text}", file=sys.stderr)
        return 2
    try:
        node = FlowenedetNode()
    except (FlowenedetError, ParameterException) as error:
        rclpy.logging.get_logger("flowenedet_node").error(f"cannot start: {error}")
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
