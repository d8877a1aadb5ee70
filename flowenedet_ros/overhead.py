"""What the node adds to the pipeline per frame: message -> RGB conversion, and building and
publishing every output (to subscribers in this process, so messages are really serialised).

    python -m flowenedet_ros.overhead --backbone erfnet --weights W --size 512x1024 --json OUT
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header

from flowenedet_core.benchmark import latency_summary
from flowenedet_core.cli.model_args import add_engines_argument, add_model_arguments, model_spec
from flowenedet_core.data.frames import load_frames
from flowenedet_core.runtime.pipeline import Pipeline

from .image_conversion import image_to_rgb
from .messages import image_message
from .node import OUTPUT_QOS
from .output_images import colorize, ood_mask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser, timing_only=True)
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    add_engines_argument(parser)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    spec = model_spec(args)
    frames, source = load_frames(args.images, 4, spec.resolved_size())
    pipeline = Pipeline.create(spec, backend=args.backend, artifacts=args.engines,
                               threads=args.threads)
    rclpy.init()
    node, sink = rclpy.create_node("overhead_publisher"), rclpy.create_node("overhead_sink")
    publishers = [node.create_publisher(Image, topic, OUTPUT_QOS) for topic in
                  ("segmentation", "segmentation/color", "uncertainty", "ood_mask")]
    flag_pub = node.create_publisher(Bool, "low_confidence", OUTPUT_QOS)
    for topic, kind in [("segmentation", Image), ("segmentation/color", Image),
                        ("uncertainty", Image), ("ood_mask", Image), ("low_confidence", Bool)]:
        sink.create_subscription(kind, topic, lambda _: None, OUTPUT_QOS)
    node.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
    messages = [image_message(frame, Header(frame_id="camera")) for frame in frames]
    timings: dict[str, list[float]] = {"convert": [], "pipeline": [], "publish": []}
    for index in range(args.repeats + 2):
        message = messages[index % len(messages)]
        started = time.perf_counter()
        image = image_to_rgb(message.encoding, message.height, message.width, message.step,
                             message.data)
        converted = time.perf_counter()
        prediction = pipeline.infer(image)
        inferred = time.perf_counter()
        outputs = (prediction.labels, colorize(prediction.labels), prediction.uncertainty,
                   ood_mask(prediction.uncertainty, 0.5))
        for publisher, array in zip(publishers, outputs, strict=True):
            publisher.publish(image_message(array, message.header))
        flag_pub.publish(Bool(data=True))
        published = time.perf_counter()
        if index >= 2:  # warm-up
            for stage, seconds in (("convert", converted - started),
                                   ("pipeline", inferred - converted),
                                   ("publish", published - inferred)):
                timings[stage].append(seconds * 1e3)
        rclpy.spin_once(sink, timeout_sec=0)
    summary = {stage: latency_summary(values) for stage, values in timings.items()}
    node_ms = summary["convert"]["mean"] + summary["publish"]["mean"]
    height, width = pipeline.image_size
    report = {"model": f"{spec.backbone} + {spec.head_name} at {height}x{width}",
              "frames": source, "backend": pipeline.describe(),
              "stages_ms": summary, "node_overhead_ms": node_ms,
              "node_overhead_pct_of_pipeline": 100 * node_ms / summary["pipeline"]["mean"]}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    node.destroy_node()
    sink.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
