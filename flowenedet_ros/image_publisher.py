"""Publish image files (or seeded synthetic frames) as sensor_msgs/Image at a fixed rate: a
stand-in camera for trying the node and for its tests, e.g.

    python -m flowenedet_ros.image_publisher --topic /flowenedet_node/image --images DIR --rate 30
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from flowenedet_core.data.frames import load_frames
from flowenedet_core.data.transforms import parse_size

from .messages import image_message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", required=True)
    parser.add_argument("--images", type=Path, default=None, help="folder; default: synthetic")
    parser.add_argument("--size", type=parse_size, default=None, help="resize frames to HxW")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--count", type=int, default=100, help="messages to send (cycling)")
    parser.add_argument("--frame-id", default="camera")
    parser.add_argument("--wait-subscriber", type=float, default=30.0,
                        help="seconds to wait for a subscriber before sending")
    args, ros_args = parser.parse_known_args(argv)
    frames, _ = load_frames(args.images, min(args.count, 64), args.size)
    rclpy.init(args=ros_args)
    node = rclpy.create_node("image_publisher")
    publisher = node.create_publisher(Image, args.topic,
                                      QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    deadline = time.monotonic() + args.wait_subscriber
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    period, started = 1.0 / args.rate, time.monotonic()
    for index, frame in zip(range(args.count), itertools.cycle(frames)):
        delay = started + index * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        message = image_message(frame, Header())
        message.header.stamp = node.get_clock().now().to_msg()
        message.header.frame_id = args.frame_id
        publisher.publish(message)
    node.get_logger().info(f"sent {args.count} frames to {args.topic} in "
                           f"{time.monotonic() - started:.1f} s")
    time.sleep(0.5)  # let the last messages leave
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
