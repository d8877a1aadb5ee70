"""Offline replay: the node's pipeline and scene flag over a camera topic (Image or
CompressedImage) of any rosbag2 or ROS 1 bag.

Writes an output bag with the node's topics (input headers kept, record times of the inputs; the
reason String at its frame's record time), and returns a summary (frames, latency, flag timeline,
uncertain fractions, reasons, metrics when labels are recorded, a reason confusion matrix when the
bag records what each stretch is) plus the frames the report shows. Bad frames (wrong encoding,
truncated data, a depth image) and messages that cannot be decoded are counted as failed, flagged
like the node does, and skipped; a damaged bag is replayed as far as it reads.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flowenedet_core.errors import DataError, FlowenedetError
from flowenedet_core.runtime.base import Prediction
from flowenedet_core.runtime.pipeline import Pipeline

from ..diagnostics import FrameStats, diagnostic_status, reason_values, scaled_box
from ..frame_loss import FrameLossEstimator
from ..frame_reason import INPUT, frame_reason
from ..image_conversion import depth_kind, depth_refusal, describe_message, message_to_rgb
from ..image_evidence import STATISTICS
from ..output_images import colorize, ood_mask, resize_instances
from ..parameter_file import NODE_NAME
from ..pipeline_factory import flag_config, meta_classifier, reason_config
from ..scene_flag import SceneFlag
from .frame_gallery import FrameGallery
from .label_metrics import LabelMetrics
from .reader import BagMessage, BagSource
from .reason_summary import expected_reasons, reason_summary
from .records import (
    CAMERA_TYPES,
    IMAGE,
    LABEL_KIND_KEY,
    LABEL_KINDS,
    OUTPUT_TYPES,
    SOURCE_BAG_KEY,
    SOURCE_CAMERA_KEY,
    bool_record,
    diagnostic_record,
    image_array,
    image_record,
    output_topics,
    stamp_ns,
    string_record,
)
from .writer import BagWriter

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayOptions:
    camera_topic: str | None = None  # None: the bag's only camera (non-label image) topic
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
    frame_reason: str = INPUT  # object / scene / object+scene / input / none
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # components, frame px
    frame_shape: tuple[int, int] = (0, 0)  # (H, W) the boxes are in
    expected_reason: str | None = None  # what the bag says this stretch is
    evidence: dict[str, float] = field(default_factory=dict)  # image evidence frame values
    degraded_by: tuple[str, ...] = ()  # the image statistics past their thresholds


@dataclass
class ReplayResult:
    summary: dict
    records: list[FrameRecord] = field(default_factory=list)
    gallery: FrameGallery | None = None
    curves: dict[str, np.ndarray] | None = None


def choose_topics(source: BagSource, options: ReplayOptions) -> tuple[str, str | None, str | None]:
    """(camera topic, label topic or None, label kind or None) of this bag. Depth topics (by
    their first message: 16UC1 / 32FC1, raw or PNG, compressedDepth) are never the camera; asked
    for one, the refusal names the bag's colour topics."""
    custom = source.contents.custom
    labelled = {key.removeprefix(LABEL_KIND_KEY): kind for key, kind in custom.items()
                if key.startswith(LABEL_KIND_KEY)}
    topics = source.contents.topics
    images = [t for t, kind in topics.items() if kind in CAMERA_TYPES]
    unlabelled = [t for t in images if t not in labelled and t != options.label_topic]
    depth = {topic: kind for topic, message in source.first_messages(set(unlabelled)).items()
             if (kind := depth_kind(message)) is not None}
    colour = [t for t in unlabelled if t not in depth]
    camera = options.camera_topic
    if camera is None:
        if len(colour) > 1:
            raise DataError(f"{source.path}: {len(colour)} camera topics, choose one with "
                            f"--topic: {_listing(source, colour)}")
        if not colour and not depth:
            raise DataError(f"{source.path}: no Image or CompressedImage camera topic; topics: "
                            f"{_listing(source, list(topics))}")
        camera = colour[0] if colour else next(iter(depth))
    if camera in depth:
        raise DataError(f"{source.path}: {camera}: {depth_refusal(depth[camera])}; "
                        f"colour topics of this bag: "
                        f"{_listing(source, colour) if colour else 'none'}")
    if topics.get(camera) not in CAMERA_TYPES:
        raise DataError(f"{source.path}: no Image or CompressedImage topic {camera!r}; image "
                        f"topics: {_listing(source, images) if images else 'none'}")
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


def _listing(source: BagSource, topics: list[str], most: int = 20) -> str:
    """`topic (type, N messages)`, comma separated, for error lines."""
    counts = source.contents.counts
    items = [f"{t} ({source.contents.topics[t]}, {counts.get(t, '?')} messages)"
             for t in topics[:most]]
    return ", ".join(items) + (f" and {len(topics) - most} more" if len(topics) > most else "")


class _Replayer:
    """The node's per-frame work, writing to a bag instead of publishing."""

    def __init__(self, pipeline: Pipeline, values: dict, writer: BagWriter,
                 written: dict[str, str], camera: str, metrics: LabelMetrics | None,
                 gallery_frames: int, expected: list[tuple[int, int, str]]) -> None:
        self.pipeline, self.values, self.writer, self.written = pipeline, values, writer, written
        self.camera, self.metrics, self.expected = camera, metrics, expected
        self.flag_settings = flag_config(values)
        self.reason_settings = reason_config(values)
        self.classifier = meta_classifier(values)
        self.flag: SceneFlag | None = None
        self.gallery = FrameGallery(gallery_frames)
        self.records: list[FrameRecord] = []
        self.stats = FrameStats()
        self.loss = FrameLossEstimator()  # frames the recording lacks
        self.failures: list[str] = []
        self.pending: dict[int, Prediction] = {}  # stamp -> prediction awaiting its label
        self.last_report = -math.inf

    def label(self, item: BagMessage, topic: str) -> None:
        if item.message is None:
            self.failures.append(f"{topic} message at {item.timestamp} ns {item.error}; its "
                                 "frame is not scored")
            return
        self.writer.write(topic, item.timestamp, item.message)
        stamp = stamp_ns(item.message.header)
        waiting = self.pending.pop(stamp, None)
        if waiting is None:
            return
        truth, frame = image_array(item.message), waiting.labels
        if truth.shape != frame.shape:
            self.failures.append(f"label at {stamp} ns is {truth.shape[1]}x{truth.shape[0]}, "
                                 f"its frame {frame.shape[1]}x{frame.shape[0]}: not scored")
            return
        self.metrics.add(waiting, truth)

    def frame(self, item: BagMessage) -> None:
        """Served, or failed (undecodable: at its record time; unconvertible): one record each."""
        message = item.message
        stamp = item.timestamp if message is None else stamp_ns(message.header)
        now = stamp / 1e9
        if self.flag is None:
            self.flag = SceneFlag(self.flag_settings, now)
        if message is None:
            self.loss.update_unstamped()
            self._fail(f"{self.camera} message at {stamp} ns {item.error}", item.timestamp, now)
        else:
            self.loss.update(now)
            try:
                image = message_to_rgb(message, self.values["max_pixels"])
                prediction = self.pipeline.infer(image)
            except FlowenedetError as error:
                self._fail(f"{self.camera} frame at {stamp} ns {describe_message(message)}: "
                           f"{error}", item.timestamp, now)
            else:
                self._serve(image, prediction, item.timestamp, stamp, message.header.frame_id,
                            now)
        self.records[-1].expected_reason = next(
            (kind for first, last, kind in self.expected if first <= stamp <= last), None)
        self._diagnostics(item.timestamp, stamp, now)

    def _serve(self, image: np.ndarray, prediction: Prediction, timestamp: int, stamp: int,
               frame_id: str, now: float) -> None:
        state = self.flag.update(prediction.uncertainty, now)
        judged = frame_reason(image, prediction.model_uncertainty, prediction.model_labels,
                              self.reason_settings, self.classifier)
        reason, components = judged.reason, judged.components
        shape = prediction.labels.shape
        outputs = {"segmentation": prediction.labels,
                   "segmentation/color": colorize(prediction.labels),
                   "uncertainty": prediction.uncertainty,
                   "ood_mask": ood_mask(prediction.uncertainty,
                                        self.flag_settings.pixel_threshold),
                   "ood_instances": resize_instances(components.instances(), shape)}
        for name, array in outputs.items():
            if name in self.written:
                self.writer.write(self.written[name], timestamp,
                                  image_record(array, stamp, frame_id))
        self._write_flag(state.raised, reason, timestamp)
        latency = prediction.timings["total"]
        boxes = [scaled_box(c.box, components.labels.shape, shape)
                 for c in components.components]
        self.records.append(FrameRecord(now, state.uncertain_fraction, state.raised,
                                        state.reason, latency, reason, boxes, shape,
                                        evidence=judged.evidence.values,
                                        degraded_by=judged.degraded_by))
        self.stats.frames += 1
        self.stats.last_latency_ms = latency
        self.stats.reason = reason_values(reason, judged, shape)
        self.gallery.offer(len(self.records) - 1, state.uncertain_fraction, image, outputs)
        if self.metrics is not None:
            self.pending[stamp] = prediction

    def _fail(self, text: str, timestamp: int, now: float) -> None:
        LOGGER.error(text)
        self.failures.append(text)
        state = self.flag.fail(text, now)
        self._write_flag(state.raised, INPUT, timestamp)
        self.records.append(FrameRecord(now, float("nan"), state.raised, state.reason,
                                        float("nan")))
        self.stats.reason = reason_values(INPUT, None, (1, 1))
        self.stats.failures += 1
        self.stats.last_error, self.stats.last_error_time = text, now

    def _write_flag(self, raised: bool, reason: str, timestamp: int) -> None:
        if "low_confidence" in self.written:
            self.writer.write(self.written["low_confidence"], timestamp, bool_record(raised))
        if "low_confidence/reason" in self.written:
            self.writer.write(self.written["low_confidence/reason"], timestamp,
                              string_record(reason))

    def _diagnostics(self, timestamp: int, stamp: int, now: float) -> None:
        """/diagnostics every diagnostics_period_s of bag time, as the node's timer does."""
        period = self.values["diagnostics_period_s"]
        if "diagnostics" not in self.written or now - self.last_report < period:
            return
        self.last_report = now
        level, text, values = diagnostic_status(self.flag.state(now), self.stats, 0,
                                                self.loss.snapshot(), self.pipeline.describe(),
                                                now, period)
        self.writer.write(self.written["diagnostics"], timestamp, diagnostic_record(
            stamp, f"{NODE_NAME}: uncertainty", self.pipeline.backend, level, text, values))


def replay(bag: str | Path, pipeline: Pipeline, values: dict, output: str | Path,
           options: ReplayOptions = ReplayOptions(), progress: bool = True) -> ReplayResult:
    """Replay `bag` with parameter `values` (as the node reads them) into the bag `output`."""
    unknown = set(options.outputs) - set(OUTPUT_TYPES)
    if unknown:
        raise DataError(f"unknown output(s) {', '.join(sorted(unknown))}; choose from "
                        f"{', '.join(OUTPUT_TYPES)}")
    written = {name: output_topics(options.node)[name] for name in options.outputs}
    with BagSource(bag) as source:
        camera, label_topic, label_kind = choose_topics(source, options)
        metrics = LabelMetrics(label_kind) if label_kind else None
        wanted = {camera} | ({label_topic} if label_topic else set())
        custom = {**source.contents.custom, SOURCE_BAG_KEY: str(Path(bag).resolve()),
                  SOURCE_CAMERA_KEY: camera}
        with BagWriter(output, options.storage, custom) as writer:
            replayer = _Replayer(pipeline, values, writer, written, camera, metrics,
                                 options.gallery_frames, expected_reasons(source.contents.custom))
            bar = tqdm(total=source.contents.counts.get(camera), desc="replay", unit="frame",
                       disable=not progress)
            for item in source.messages(wanted, keep_undecodable=True):
                if item.topic == label_topic:
                    replayer.label(item, label_topic)
                else:
                    bar.update()
                    replayer.frame(item)
            bar.close()
        problems = source.problems + replayer.failures
    summary = summarize(replayer.records, problems, values, metrics, replayer.loss.lost)
    summary.update(bag=str(bag), output_bag=str(output), camera_topic=camera,
                   label_topic=label_topic, output_topics=written, backend=pipeline.describe(),
                   model_input_size=list(pipeline.image_size))
    if metrics is not None and replayer.pending:
        summary["problems"].append(f"{len(replayer.pending)} frames have no label on "
                                   f"{label_topic}")
    return ReplayResult(summary, replayer.records, replayer.gallery,
                        metrics.curves() if metrics else None)


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
              metrics: LabelMetrics | None, lost: int) -> dict:
    served = [r for r in records if np.isfinite(r.uncertain_fraction)]
    return {
        # every camera message: served or failed (replay serves every frame: none dropped);
        # lost: frames the recording lacks (gaps in the camera's stamps)
        "frames": {"read": len(records), "served": len(served), "dropped": 0,
                   "failed": len(records) - len(served), "lost": lost},
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
        "reason": reason_summary(records),
        "image_evidence": {
            "thresholds": {name: reason_config(values).evidence.threshold(name)
                           for name in STATISTICS},
            "timeline": [[r.stamp_s, r.evidence or None, list(r.degraded_by)]
                         for r in records]},
        "metrics": metrics.summary() if metrics else None,
        "problems": problems,
    }


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None  # JSON has no NaN
