"""Compare the outputs of two bags frame by frame (matched by header stamp): live recording
against offline replay, or one backend against another."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .reader import BagSource
from .records import DEFAULT_NODE, image_array, output_topics, stamp_ns


@dataclass
class OutputDifference:
    frames_a: int
    frames_b: int
    matched: int
    label_mismatched_pixels: int  # over all matched frames
    max_uncertainty_difference: float


def _outputs(path: str | Path, node: str) -> dict[int, dict[str, np.ndarray]]:
    topics = output_topics(node)
    names = {topics["segmentation"]: "labels", topics["uncertainty"]: "uncertainty"}
    frames: dict[int, dict[str, np.ndarray]] = {}
    with BagSource(path) as source:
        for item in source.messages(set(names)):
            frame = frames.setdefault(stamp_ns(item.message.header), {})
            frame[names[item.topic]] = image_array(item.message)
    return {stamp: frame for stamp, frame in frames.items() if len(frame) == 2}


def compare_outputs(a: str | Path, b: str | Path, node: str = DEFAULT_NODE) -> OutputDifference:
    first, second = _outputs(a, node), _outputs(b, node)
    common = sorted(set(first) & set(second))
    mismatched, largest = 0, 0.0
    for stamp in common:
        x, y = first[stamp], second[stamp]
        mismatched += int(np.count_nonzero(x["labels"] != y["labels"]))
        largest = max(largest, float(np.abs(x["uncertainty"] - y["uncertainty"]).max()))
    return OutputDifference(len(first), len(second), len(common), mismatched, largest)
