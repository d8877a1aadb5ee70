"""What turning a camera message into RGB costs per frame, for each input the node accepts: the
conversion-cost table of docs/ros.md.

    python -m flowenedet_ros.conversion_bench --image FRAME.png --size 1080x1920 --json OUT
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from flowenedet_core.data.transforms import read_rgb

from .image_conversion import (
    ENCODINGS,
    compressed_to_rgb,
    image_to_rgb,
    rgb_to_compressed,
    rgb_to_image_fields,
)

COMPRESSED = {"jpeg q95": ("jpeg", 95), "jpeg q80": ("jpeg", 80), "png": ("png", 95)}


def median_ms(convert, repeats: int) -> float:
    convert()  # first call: allocations, OpenCV's lazy initialisation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        convert()
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


def measure(rgb: np.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Input -> {"ms": median decode ms, "bytes": message data size}."""
    results = {}
    for name, (codec, quality) in COMPRESSED.items():
        fmt, data = rgb_to_compressed(rgb, codec, jpeg_quality=quality)
        results[name] = {"ms": median_ms(lambda f=fmt, d=data: compressed_to_rgb(f, d), repeats),
                         "bytes": len(data)}
    for encoding in ENCODINGS:
        height, width, step, data = rgb_to_image_fields(rgb, encoding)
        results[encoding] = {"ms": median_ms(lambda e=encoding, h=height, w=width, s=step,
                                             d=data: image_to_rgb(e, h, w, s, d), repeats),
                             "bytes": len(data)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, required=True, help="a real camera frame")
    parser.add_argument("--size", default="1080x1920", help="HxW it is resized to (2 MP)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)
    height, width = (int(v) for v in args.size.split("x"))
    rgb = cv2.resize(read_rgb(args.image), (width, height), interpolation=cv2.INTER_AREA)
    results = measure(rgb, args.repeats)
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP), {args.threads} OpenCV thread(s), "
          f"median of {args.repeats}")
    for name, result in results.items():
        print(f"{name:14s} {result['ms']:7.2f} ms  {result['bytes'] / 1e6:6.2f} MB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"size": [height, width], "threads": args.threads,
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
