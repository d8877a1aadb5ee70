"""`flowenedet demo`: the whole product on a synthetic drive, with nothing downloaded.

1. render the demo drive (clear, anomaly, light-fog and heavy-fog stretches) into a bag, with the
   anomaly masks as labels;
2. start the real node process with the embedded model on onnxruntime and the shipped thresholds;
3. play the bag into it live and record its outputs;
4. replay the same bag offline for the report, check that the live outputs equal it, and print a
   short summary: frames, latency, where the flag rose and cleared, the reason on each stretch
   (the most frequent per-frame reason, which must be the stretch's expected one), AP on the
   drive.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from flowenedet_core.data.synthetic_drive import DEMO_DRIVE, Stretch, drive
from flowenedet_core.errors import DataError

from .bags.compare import compare_outputs
from .bags.make_bag import BagLayout, Frame, write_bag
from .bags.replay import ReplayOptions, replay
from .bags.report import write_report
from .parameter_file import embedded_model_values, load_parameter_file, write_parameter_file
from .pipeline_factory import create_pipeline

LOGGER = logging.getLogger(__name__)
RATE_HZ = 10.0
START_NS = 1_800_000_000 * 10**9  # fixed stamps: the same bag on every machine


MAX_RAISE_DELAY = 5  # frames: "the flag rises within a few frames"


@dataclass
class StretchVerdict:
    """How the flag behaved on one stretch."""

    stretch: Stretch
    first: int  # frame index of its first frame
    raised: list[bool]  # the flag on each of its frames
    carried: bool  # the flag was up when the stretch began
    reasons: list[str]  # the reason of each of its frames

    @property
    def rose_after(self) -> int | None:
        """Frames into the stretch until the flag rose (0: it was already up)."""
        return next((i for i, up in enumerate(self.raised) if up), None)

    @property
    def rises(self) -> int:
        """Rising edges inside the stretch."""
        previous, count = self.carried, 0
        for up in self.raised:
            count += up and not previous
            previous = up
        return count

    @property
    def reason(self) -> str:
        """The stretch's most frequent reason."""
        return Counter(self.reasons).most_common(1)[0][0]

    @property
    def reason_ok(self) -> bool:
        return self.reason == self.stretch.expected_reason

    def describe_reason(self) -> str:
        share = self.reasons.count(self.reason) / len(self.reasons)
        return (f"{self.stretch.name} {self.reason} ({share:.0%})"
                + ("" if self.reason_ok else f" WRONG, expected {self.stretch.expected_reason}"))

    @property
    def ok(self) -> bool:
        if self.stretch.expect_flag:
            return self.rose_after is not None and self.rose_after < MAX_RAISE_DELAY
        return self.rises == 0 and not self.raised[-1]  # only clearing from before

    def describe(self) -> str:
        last = self.first + self.stretch.frames - 1
        text = f"{self.stretch.name} (frames {self.first}-{last}): "
        if self.stretch.expect_flag:
            return text + (f"up after {self.rose_after + 1} frames"
                           if self.rose_after is not None else "never up")
        if self.rises:
            return text + f"rose {self.rises} times"
        if self.carried:
            cleared = self.raised.index(False) if False in self.raised else None
            return text + (f"down (cleared after {cleared} frames)" if cleared is not None
                           else "still up")
        return text + "down"


def demo_parameters(out: Path, variant: str) -> Path:
    """The node's parameter file: the embedded model, the shipped thresholds, onnxruntime."""
    values = embedded_model_values(variant, {
        "backend": "onnxruntime",
        "artifacts_dir": str((out / "artifacts").resolve()),
        "qos_reliability": "reliable",  # every frame of the drive served, none lost in transport
        "stale_timeout_s": 5.0})  # a slow first frame is not a stale camera
    return write_parameter_file(values, out / "params.yaml",
                                "flowenedet demo: the embedded model with its shipped thresholds")


def write_drive(path: Path, seed: int, stretches: tuple[Stretch, ...] = DEMO_DRIVE,
                storage: str = "mcap") -> list[int]:
    """A synthetic drive as a bag, anomaly masks as labels, each stretch's expected reason in
    its custom_data; returns the first frame index of each stretch."""
    frames = (Frame(f"{index:04d}", frame.image, frame.anomaly,
                    stretches[stretch].expected_reason)
              for index, (stretch, frame) in enumerate(drive(stretches, seed)))
    lengths = [stretch.frames for stretch in stretches]
    write_bag(frames, sum(lengths), path, BagLayout(rate_hz=RATE_HZ, storage=storage),
              "anomaly", START_NS, progress=False)
    return list(itertools.accumulate(lengths, initial=0))[:-1]


def run_node(params: Path, bag: Path, recording: Path, log: Path) -> None:
    """The node as its own process, the bag played into it live, its outputs recorded."""
    import rclpy

    from .bags.live import LiveOptions, play_and_record

    # a domain of its own on loopback: the demo never talks to other ROS nodes on the network
    domain = 100 + os.getpid() % 100
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    environment = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    command = [sys.executable, "-m", "flowenedet_ros.node", "--ros-args", "--params-file",
               str(params)]
    with log.open("w") as output:
        node = subprocess.Popen(command, env=environment, stdout=output,
                                stderr=subprocess.STDOUT)
    rclpy.init(args=["--ros-args"], domain_id=domain)
    try:
        result = play_and_record(bag, recording, LiveOptions(discovery_timeout_s=120.0))
    finally:
        rclpy.try_shutdown()
        node.terminate()
        try:
            node.wait(10)
        except subprocess.TimeoutExpired:
            node.kill()
    if result.recorded.get("segmentation", 0) == 0:
        raise DataError(f"the node answered no frame; its log: {log}")
    LOGGER.info("live: %d frames played, %d answered", result.published,
                result.recorded["segmentation"])


def verdicts(raised: list[bool], reasons: list[str], starts: list[int]) -> list[StretchVerdict]:
    return [StretchVerdict(stretch, first, raised[first:first + stretch.frames],
                           first > 0 and raised[first - 1], reasons[first:first + stretch.frames])
            for stretch, first in zip(DEMO_DRIVE, starts, strict=True)]


def run_demo(out: Path, variant: str = "fed-u", seed: int = 0) -> tuple[list[str], bool]:
    """Everything above; returns the summary lines and whether the flag behaved."""
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    for previous in ("drive", "live", "replay"):  # bags are never overwritten in place
        shutil.rmtree(out / previous, ignore_errors=True)
    params = demo_parameters(out, variant)
    starts = write_drive(out / "drive", seed)
    values = load_parameter_file(params)
    pipeline = create_pipeline(values)  # exports the ONNX file the node will find cached
    run_node(params, out / "drive", out / "live", out / "node.log")
    result = replay(out / "drive", pipeline, values, out / "replay" / "bag",
                    ReplayOptions(), progress=False)
    page = write_report(result, out / "replay")
    same = compare_outputs(out / "replay" / "bag", out / "live")
    summary = result.summary
    raised = [record.raised for record in result.records]
    checks = verdicts(raised, [record.frame_reason for record in result.records], starts)
    flag_text = "; ".join(v.describe() for v in checks)
    reason_text = "; ".join(v.describe_reason() for v in checks)
    metrics, latency = summary["metrics"], summary["latency_ms"]
    lines = [
        f"frames: {summary['frames']['served']} of the drive served offline; live node answered "
        f"{same.frames_b}, identical to offline on {same.matched} "
        f"(label pixels differing {same.label_mismatched_pixels}, max uncertainty difference "
        f"{same.max_uncertainty_difference:.1e})",
        f"latency: mean {latency['mean']:.1f} ms, p99 {latency['p99']:.1f} ms per frame "
        f"({summary['backend']}, {variant.upper()} on the embedded erfnet-tiny)",
        f"flag: {flag_text}",
        f"reason: {reason_text} (reason accuracy over the drive's frames "
        f"{summary['reason']['accuracy']:.0%})",
        f"AP on the drive: {metrics['ap']:.2f} % (AUROC {metrics['auroc']:.2f} %, anomaly "
        f"pixels of {metrics['frames']} frames)",
        f"report: {page} (done in {time.monotonic() - started:.0f} s)",
    ]
    return lines, all(v.ok and v.reason_ok for v in checks)
