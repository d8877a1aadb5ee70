"""Image folders (optionally with labels) -> a rosbag2 of sensor_msgs/Image (any encoding of the
conversion table) or CompressedImage (JPEG / PNG) at a fixed rate, so datasets can be replayed
like drives. Labels go on a second, mono8 topic with the same stamps; the
bag's custom_data says what they mean (anomaly masks or semantic train ids)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.data.datasets import LabelledFolder
from flowenedet_core.data.frames import image_paths
from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.data.transforms import read_label, read_rgb
from flowenedet_core.errors import DataError

from ..image_conversion import COMPRESSED_CODECS, camera_encoding
from .reason_summary import encode_expected
from .records import LABEL_KIND_KEY, camera_record, image_record
from .writer import BagWriter

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class BagLayout:
    topic: str = "/camera/image_raw"
    label_topic: str = "/camera/labels"
    frame_id: str = "camera"
    rate_hz: float = 10.0
    encoding: str = "rgb8"  # any encoding of image_conversion.ENCODINGS (no depth)
    storage: str = "mcap"
    compressed: str = ""  # jpeg | png: CompressedImage instead (image_transport "compressed")
    compression: str = "none"  # none | file | message: the bag's zstd compression


@dataclass
class Frame:
    name: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: np.ndarray | None  # (H, W) uint8
    expected: str | None = None  # the reason this frame should get (replay's confusion matrix)


def expect_reason(frames: Iterator[Frame], reason: str, label_kind: str | None
                  ) -> Iterator[Frame]:
    """Every frame expected as `reason`, except that with anomaly labels a frame without anomaly
    pixels cannot show an object (object -> none, object+scene -> scene)."""
    for frame in frames:
        expected = reason
        if label_kind == "anomaly" and frame.label is not None and "object" in reason \
                and not (frame.label == 1).any():
            expected = "scene" if "scene" in reason else "none"
        yield Frame(frame.name, frame.image, frame.label, expected)


def labelled_frames(specs: list[str]) -> tuple[Iterator[Frame], int, str]:
    """`--data` specs -> frames, their count and the label kind (all specs must agree)."""
    datasets: list[LabelledFolder] = [parse_data_spec(spec) for spec in specs]
    kinds = {"anomaly" if d.kind == "anomaly" else "semantic" for d in datasets}
    if len(kinds) > 1:
        raise DataError("one bag holds one kind of label: do not mix anomaly and Cityscapes "
                        "folders")
    frames = (Frame(sample.name, sample.image, sample.label)
              for dataset in datasets for sample in dataset)
    return frames, sum(len(d) for d in datasets), kinds.pop()


def folder_frames(images: Path, labels: Path | None) -> tuple[Iterator[Frame], int]:
    """Every image under `images` (recursively, sorted); with `labels`, the PNG of the same stem
    (and relative folder) beside each."""
    pairs = []
    for path in image_paths(images):
        label = None
        if labels is not None:
            label = Path(labels) / path.relative_to(images).with_suffix(".png")
            if not label.is_file():
                raise DataError(f"no label {label} for image {path}")
        pairs.append((path, label))

    def frames() -> Iterator[Frame]:
        for path, label_path in pairs:
            image = read_rgb(path)
            label = read_label(label_path) if label_path else None
            if label is not None and label.shape != image.shape[:2]:
                raise DataError(f"{label_path}: label {label.shape} does not match image "
                                f"{image.shape[:2]}")
            yield Frame(path.stem, image, label)

    return frames(), len(pairs)


def write_bag(frames: Iterator[Frame], count: int, output: str | Path, layout: BagLayout,
              label_kind: str | None = None, start_ns: int | None = None,
              progress: bool = True) -> dict[str, int]:
    """Frames -> bag at `output`, one every 1/rate s from `start_ns` (default: now); the frames'
    expected reasons, where given, go into custom_data for replay's confusion matrix.
    Returns messages per topic."""
    if layout.rate_hz <= 0:
        raise DataError(f"rate must be > 0 Hz, got {layout.rate_hz}")
    camera_encoding(layout.encoding)  # one of the table; depth is refused as the node does
    if layout.compressed not in ("", *COMPRESSED_CODECS):
        raise DataError(f"compressed must be one of {', '.join(COMPRESSED_CODECS)}, got "
                        f"{layout.compressed!r}")
    start = time.time_ns() if start_ns is None else start_ns
    period = round(1e9 / layout.rate_hz)
    custom = {LABEL_KIND_KEY + layout.label_topic: label_kind} if label_kind else None
    stretches: list[list] = []  # [first stamp, last stamp, reason]
    with BagWriter(output, layout.storage, custom, layout.compression) as writer:
        for index, frame in enumerate(tqdm(frames, total=count, desc="make-bag", unit="frame",
                                           disable=not progress)):
            stamp = start + index * period
            if frame.expected is not None:
                if stretches and stretches[-1][2] == frame.expected \
                        and stretches[-1][1] == stamp - period:
                    stretches[-1][1] = stamp
                else:
                    stretches.append([stamp, stamp, frame.expected])
            writer.write(layout.topic, stamp, camera_record(
                frame.image, layout.compressed or layout.encoding, stamp, layout.frame_id))
            if frame.label is not None:
                writer.write(layout.label_topic, stamp,
                             image_record(frame.label, stamp, layout.frame_id))
        writer.set_custom(encode_expected([tuple(s) for s in stretches]) if stretches else {})
    LOGGER.info("wrote %s: %s", output, ", ".join(f"{t} {n}" for t, n in writer.counts.items()))
    return writer.counts
