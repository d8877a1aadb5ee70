"""Offline replay: the node's pipeline and scene flag over a camera topic of any rosbag2.

Writes an output bag with the node's topics (input headers kept, record times of the inputs), and
returns a summary (frames, latency, flag timeline, uncertain fractions, metrics when labels are
recorded) plus the frames the report shows. Bad frames (wrong encoding, truncated data) are
counted, flagged like the node does, and skipped; a damaged bag is replayed as far as it reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.errors import DataError, FlowenedetError
from flowenedet_core.runtime.base import Prediction
from flowenedet_core.runtime.pipeline import Pipeline

from ..image_conversion import image_to_rgb
from ..messages import colorize, ood_mask
from ..pipeline_factory import flag_config
from ..scene_flag import SceneFlag
from .frame_gallery import FrameGallery
from .label_metrics import LabelMetrics
from .reader import BagSource
from .records import (
    IMAGE,
    LABEL_KIND_KEY,
    LABEL_KINDS,
    OUTPUT_TYPES,
    bool_record,
    image_array,
    image_record,
    output_topics,
    stamp_ns,
)
from .writer import BagWriter

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayOptions:
    camera_topic: str | None = None  # None: the bag's only camera (non-label Image) topic
    label_topic: str | None = None  # None: the labelled topic named in the bag, if any
    label_kind: str | None = None  # None: as the bag says
    node: str = "/flowenedet_node"  # output topics are this node's
    storage: str = "mcap"
    outputs: tuple[str, ...] = tuple(OUTPUT_TYPES)  # which output topics to write
    gallery_frames: int = 3  # most and least confident frames kept for the report


@dataclass
class FrameRecord:
    stamp_s: float
    uncertain_fraction: float  # NaN for a failed frame
    raised: bool
    reason: str
    latency_ms: float


@dataclass
class ReplayResult:
    summary: dict
    records: list[FrameRecord] = field(default_factory=list)
    gallery: FrameGallery | None = None
    curves: dict[str, np.ndarray] | None = None


def choose_topics(source: BagSource, options: ReplayOptions) -> tuple[str, str | None, str | None]:
    """(camera topic, label topic or None, label kind or None) of this bag."""
    custom = source.contents.custom
    labelled = {key.removeprefix(LABEL_KIND_KEY): kind for key, kind in custom.items()
                if key.startswith(LABEL_KIND_KEY)}
    images = [t for t, kind in source.contents.topics.items() if kind == IMAGE]
    camera = options.camera_topic
    if camera is None:
        candidates = [t for t in images if t not in labelled and t != options.label_topic]
        if len(candidates) != 1:
            raise DataError(f"{source.path}: choose the camera topic with --topic from "
                            f"{', '.join(images) or 'none (no sensor_msgs/Image topic)'}")
        camera = candidates[0]
    if source.contents.topics.get(camera) != IMAGE:
        raise DataError(f"{source.path}: no sensor_msgs/Image topic {camera!r}; image topics: "
                        f"{', '.join(images) or 'none'}")
    label = options.label_topic or (next(iter(labelled)) if len(labelled) == 1 else None)
    if label is None:
        return camera, None, None
    if source.contents.topics.get(label) != IMAGE:
        raise DataError(f"{source.path}: no label topic {label!r}")
    kind = options.label_kind or labelled.get(label)
    if kind not in LABEL_KINDS:
        raise DataError(f"{source.path}: say what {label} holds with --label-kind "
                        f"({' or '.join(LABEL_KINDS)})")
    return camera, label, kind


def replay(bag: str | Path, pipeline: Pipeline, values: dict, output: str | Path,
           options: ReplayOptions = ReplayOptions(), progress: bool = True) -> ReplayResult:
    """Replay `bag` with parameter `values` (as the node reads them) into the bag `output`."""
    flag_settings = flag_config(values)
    with BagSource(bag) as source:
        camera, label_topic, label_kind = choose_topics(source, options)
        topics = output_topics(options.node)
        metrics = LabelMetrics(label_kind) if label_kind else None
        gallery = FrameGallery(options.gallery_frames)
        records: list[FrameRecord] = []
        flag: SceneFlag | None = None
        pending: dict[int, Prediction] = {}  # stamp -> prediction awaiting its label
        failures: list[str] = []
        wanted = {camera} | ({label_topic} if label_topic else set())
        unknown = set(options.outputs) - set(OUTPUT_TYPES)
        if unknown:
            raise DataError(f"unknown output(s) {', '.join(sorted(unknown))}; choose from "
                            f"{', '.join(OUTPUT_TYPES)}")
        written = {name: topics[name] for name in options.outputs}
        with BagWriter(output, options.storage, source.contents.custom) as writer:
            bar = tqdm(total=source.contents.counts.get(camera), desc="replay", unit="frame",
                       disable=not progress)
            for item in source.messages(wanted):
                message, stamp = item.message, stamp_ns(item.message.header)
                if item.topic == label_topic:
                    writer.write(label_topic, item.timestamp, message)
                    waiting = pending.pop(stamp, None)
                    if waiting is not None:
                        _score(metrics, waiting, message, stamp, failures)
                    continue
                bar.update()
                now = stamp / 1e9
                if flag is None:
                    flag = SceneFlag(flag_settings, now)
                try:
                    image = image_to_rgb(message.encoding, message.height, message.width,
                                         message.step, memoryview(message.data),
                                         values["max_pixels"])
                    prediction = pipeline.infer(image)
                except FlowenedetError as error:
                    text = f"{camera} frame at {stamp} ns: {error}"
                    failures.append(text)
                    LOGGER.error(text)
                    state = flag.fail(text, now)
                    records.append(FrameRecord(now, float("nan"), state.raised, state.reason,
                                               float("nan")))
                    if "low_confidence" in written:
                        writer.write(written["low_confidence"], item.timestamp,
                                     bool_record(state.raised))
                    continue
                state = flag.update(prediction.uncertainty, now)
                frame_id = message.header.frame_id
                outputs = {
                    "segmentation": prediction.labels,
                    "segmentation/color": colorize(prediction.labels),
                    "uncertainty": prediction.uncertainty,
                    "ood_mask": ood_mask(prediction.uncertainty, flag_settings.pixel_threshold)}
                for name, array in outputs.items():
                    if name in written:
                        writer.write(written[name], item.timestamp,
                                     image_record(array, stamp, frame_id))
                if "low_confidence" in written:
                    writer.write(written["low_confidence"], item.timestamp,
                                 bool_record(state.raised))
                records.append(FrameRecord(now, state.uncertain_fraction, state.raised,
                                           state.reason, prediction.timings["total"]))
                gallery.offer(len(records) - 1, state.uncertain_fraction, image, outputs)
                if metrics is not None:
                    pending[stamp] = prediction
            bar.close()
        problems = source.problems + failures
    summary = summarize(records, problems, values, metrics)
    summary.update(bag=str(bag), output_bag=str(output), camera_topic=camera,
                   label_topic=label_topic, output_topics=written, backend=pipeline.describe(),
                   model_input_size=list(pipeline.image_size))
    missing = len(pending)
    if metrics is not None and missing:
        summary["problems"].append(f"{missing} frames have no label on {label_topic}")
    return ReplayResult(summary, records, gallery, metrics.curves() if metrics else None)


def _score(metrics: LabelMetrics, prediction: Prediction, message, stamp: int,
           failures: list[str]) -> None:
    truth, frame = image_array(message), prediction.labels
    if truth.shape != frame.shape:
        failures.append(f"label at {stamp} ns is {truth.shape[1]}x{truth.shape[0]}, its frame "
                        f"{frame.shape[1]}x{frame.shape[0]}: not scored")
        return
    metrics.add(prediction, truth)


def _statistics(values: list[float]) -> dict[str, float]:
    data = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        return {}
    return {"mean": float(data.mean()), "p50": float(np.percentile(data, 50)),
            "p95": float(np.percentile(data, 95)), "p99": float(np.percentile(data, 99)),
            "max": float(data.max())}


def flag_transitions(records: list[FrameRecord]) -> list[dict]:
    """Where the flag rose and cleared: frame index, stamp and why."""
    changes, previous = [], False
    for index, record in enumerate(records):
        if record.raised != previous:
            changes.append({"frame": index, "stamp_s": record.stamp_s,
                            "raised": record.raised, "reason": record.reason})
            previous = record.raised
    return changes


def summarize(records: list[FrameRecord], problems: list[str], values: dict,
              metrics: LabelMetrics | None) -> dict:
    served = [r for r in records if np.isfinite(r.uncertain_fraction)]
    return {
        "frames": {"read": len(records), "served": len(served),
                   "failed": len(records) - len(served)},
        "latency_ms": _statistics([r.latency_ms for r in served]),
        "uncertain_fraction": _statistics([r.uncertain_fraction for r in served]),
        "flag": {
            "parameters": {name: values[name] for name in
                           ("pixel_threshold", "scene_threshold", "raise_frames",
                            "clear_frames", "roi")},
            "raised_frames": sum(r.raised for r in records),
            "transitions": flag_transitions(records),
            "timeline": [[r.stamp_s, _finite_or_none(r.uncertain_fraction), r.raised]
                         for r in records]},
        "metrics": metrics.summary() if metrics else None,
        "problems": problems,
    }



def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None  # JSON has no NaN
