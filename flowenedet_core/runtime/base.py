"""What every inference backend offers, and what the pipeline hands back per frame."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

IN_GRAPH_STAGES = ("preprocess", "backbone", "fed", "score", "postprocess", "other")


@dataclass
class Prediction:
    """One frame's result, at the frame's own size."""

    labels: np.ndarray  # (H, W) uint8 train ids
    uncertainty: np.ndarray  # (H, W) float32 in [0, 1]: p(m = 1) for FED, mapped baselines
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per host stage
    # The same at the model's input size, before resizing back (what `flowenedet eval` scores
    # anomaly masks on, and the node finds anomaly components on); the arrays above when the
    # frame already has that size.
    model_labels: np.ndarray | None = None
    model_uncertainty: np.ndarray | None = None


class RuntimeBackend(Protocol):
    """Runs one exported `InferenceGraph` (or the module itself) on uint8 NHWC batches."""

    name: str  # registry name: torch, onnxruntime, tensorrt
    device: str  # where it runs, in words (for logs and diagnostics)
    image_size: tuple[int, int]  # (H, W) the graph takes
    output_names: tuple[str, ...]  # labels, and uncertainty when the graph has a head

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """(N, H, W, 3) uint8 -> {"labels": (N, H, W) uint8, "uncertainty": (N, H, W) float32}."""
        ...

    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        """Mean milliseconds per in-graph stage (names from IN_GRAPH_STAGES) over `repeats` runs."""
        ...


def stage_means(totals: dict[str, float], repeats: int) -> dict[str, float]:
    """Summed per-stage milliseconds -> per-run means, in IN_GRAPH_STAGES order, zeros dropped."""
    return {stage: totals[stage] / repeats for stage in IN_GRAPH_STAGES if totals.get(stage)}


def stage_of_kernel(name: str, stage_of_node: dict[str, str]) -> str:
    """The stage of a profiled kernel, named after one or more ONNX nodes or values.

    onnxruntime renames layout-transformed nodes after their output ("relu_24_nchwc"); TensorRT
    names fused layers after their nodes ("node_a + node_b", "PWN(node_a, node_b)"). The first
    name found decides; layout reorders between stages count as "other"."""
    for token in re.findall(r"[\w.:/-]+", name):
        for candidate in (token, token.removesuffix("_nchwc")):
            if candidate in stage_of_node:
                return stage_of_node[candidate]
    return "other"
