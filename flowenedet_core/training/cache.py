"""A disk cache of what the frozen backbone gives FED, so training runs the backbone only once.

FED only sees the logits through its energy input z and the features through their channel-group
means a, so one cache entry per (frame, scale) holds z and a on the flow grid plus the training
the pixel outcome (correct / misclassified / void) at the scaled image's resolution, from which the
trainer derives m* (void as positive or ignored). Random crops and flips
are then taken from these maps (flipping the maps stands in for flipping the input image; the
backbone is nearly flip-equivariant). The cache key covers the backbone weights, the statistics,
the flow grid, the scales and the file list, so a stale cache is never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..backbones.base import Backbone, upsample_to
from ..cityscapes_classes import IGNORE_INDEX
from ..data.datasets import LabelledFolder
from ..data.transforms import resize_label
from ..fed.detector import condition_on_grid, energy_on_grid
from ..fed.statistics import SMLStatistics

LOGGER = logging.getLogger(__name__)
CACHE_FORMAT = 2  # bump when the stored maps change meaning
CORRECT, MISCLASSIFIED, VOID = 0, 1, 2


@dataclass(frozen=True)
class CacheSpec:
    """What the cached maps depend on."""

    backbone: str
    weights_sha256: str | None
    feature_channels: int  # tells the backbone's feature layers apart
    input_size: tuple[int, int]  # scale 1.0
    scales: tuple[float, ...]
    flow_stride: int
    condition_groups: int  # 0: no condition cached
    standardize: bool

    def key(self, dataset: LabelledFolder, statistics: SMLStatistics) -> str:
        payload = json.dumps({"format": CACHE_FORMAT, "spec": self.__dict__,
                              "stats": statistics.to_dict(),
                              "files": [str(p) for pair in dataset.pairs for p in pair]},
                             sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class CacheEntry:
    z: torch.Tensor  # (2, h, w) float32 energy input
    condition: torch.Tensor | None  # (P, h, w) float16
    target: torch.Tensor  # (H, W) uint8 outcome: CORRECT, MISCLASSIFIED or VOID


def scaled_size(size: tuple[int, int], scale: float, multiple: int) -> tuple[int, int]:
    """Scale (height, width), rounded to a multiple of the flow stride."""
    return tuple(max(multiple, round(s * scale / multiple) * multiple) for s in size)


@torch.no_grad()
def compute_entry(backbone: Backbone, image: np.ndarray, label: np.ndarray,
                  size: tuple[int, int], spec: CacheSpec,
                  statistics: SMLStatistics) -> CacheEntry:
    output = backbone(backbone.to_input(image, size))
    grid = (size[0] // spec.flow_stride, size[1] // spec.flow_stride)
    stats = statistics.tensors(output.logits.device) if spec.standardize else None
    class_logits = output.logits[:, :backbone.num_classes]
    z = energy_on_grid(class_logits, grid, stats)[0].cpu()
    condition = None
    if spec.condition_groups:
        condition = condition_on_grid(output.features, grid, spec.condition_groups)[0]
        condition = condition.half().cpu()
    label = resize_label(label, size)
    prediction = upsample_to(class_logits.float(), size)[0].argmax(0).cpu().numpy()
    outcome = np.where(label == IGNORE_INDEX, VOID,
                       np.where(prediction != label, MISCLASSIFIED, CORRECT)).astype(np.uint8)
    return CacheEntry(z, condition, torch.from_numpy(outcome))


def build_cache(backbone: Backbone, dataset: LabelledFolder, statistics: SMLStatistics,
                spec: CacheSpec, directory: str | Path, progress: bool = True
                ) -> list[CacheEntry]:
    """Load the cache for (dataset, spec) from `directory`, computing missing entries."""
    directory = Path(directory) / spec.key(dataset, statistics)
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    jobs = [(index, scale) for index in range(len(dataset)) for scale in spec.scales]
    for index, scale in tqdm(jobs, desc="backbone cache", disable=not progress, unit="map"):
        path = directory / f"{index:06d}_{scale:.3f}.pt"
        if path.is_file():
            data = torch.load(path, weights_only=True)
            entries.append(CacheEntry(data["z"], data.get("condition"), data["target"]))
            continue
        sample = dataset[index]
        size = scaled_size(spec.input_size, scale, spec.flow_stride)
        entry = compute_entry(backbone, sample.image, sample.label, size, spec, statistics)
        payload = {"z": entry.z, "target": entry.target}
        if entry.condition is not None:
            payload["condition"] = entry.condition
        torch.save(payload, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
        entries.append(entry)
    LOGGER.info("training cache %s: %d maps", directory, len(entries))
    return entries
