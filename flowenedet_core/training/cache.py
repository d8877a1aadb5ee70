"""What the frozen backbone gives FED, computed once per training view and kept on disk.

A view is either a whole frame at one of a few fixed scales (random crops are then taken from the
maps; flipping the maps stands in for flipping the image) or one draw of the reference's crop
sampler (`sampler.py`: random ratio, crop, flip, jitter, padding), on which the backbone ran as it
does at test time. Each entry holds the class logits and the FED-C condition on the flow grid
(float16), the pixel outcome (correct / misclassified / void) at the view's resolution, and the
view's per-class max-logit statistics (for the SML statistics EMA). The energy input is derived
from the logits when training, so runs with and without SML standardisation share one cache. The
key covers the backbone weights, flow grid, views and file list, so a stale cache is never reused.
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

from ..backbones.base import Backbone, resample, upsample_to
from ..cityscapes_classes import IGNORE_INDEX
from ..data.cutouts import OUTLIER_LABEL
from ..data.datasets import LabelledFolder
from ..data.transforms import resize_label
from ..fed.detector import condition_on_grid
from ..fed.statistics import view_statistics
from .sampler import CropSampler, SamplerConfig, draw_generator

LOGGER = logging.getLogger(__name__)
CACHE_FORMAT = 3  # bump when the stored maps change meaning
CORRECT, MISCLASSIFIED, VOID, OUTLIER = 0, 1, 2, 3  # OUTLIER: a pasted unknown object


@dataclass(frozen=True)
class CacheSpec:
    """What the cached maps depend on: fixed `scales`, or `draws` sampler crops per frame."""

    backbone: str
    weights_sha256: str | None
    feature_channels: int  # tells the backbone's feature layers apart
    input_size: tuple[int, int]  # scale 1.0
    flow_stride: int
    condition_groups: int  # 0: no condition cached
    scales: tuple[float, ...] = (1.0,)  # whole-frame views (without a sampler)
    sampler: SamplerConfig | None = None  # crop views drawn by the reference's pipeline
    draws: int = 0  # sampler crops per frame
    seed: int = 0  # of the sampler draws

    def views(self) -> list[float | int]:
        """Per frame: the scales, or the draw indices."""
        return list(range(self.draws)) if self.sampler else list(self.scales)

    def key(self, dataset: LabelledFolder) -> str:
        spec = {k: v for k, v in self.__dict__.items() if k != "sampler"}
        spec["sampler"] = self.sampler.to_dict() if self.sampler else None
        if not self.sampler:
            spec.pop("draws"), spec.pop("seed")
        payload = json.dumps({"format": CACHE_FORMAT, "spec": spec,
                              "files": [str(p) for pair in dataset.pairs for p in pair]},
                             sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class CacheEntry:
    logits: torch.Tensor  # (C, h, w) float16 class logits on the flow grid
    condition: torch.Tensor | None  # (P, h, w) float16
    target: torch.Tensor  # (H, W) uint8 outcome: CORRECT, MISCLASSIFIED, VOID or OUTLIER
    statistics: torch.Tensor | None = None  # (3, C): pixel count, mean, variance of the max logit

    def payload(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def scaled_size(size: tuple[int, int], scale: float, multiple: int) -> tuple[int, int]:
    """Scale (height, width), rounded to a multiple of the flow stride."""
    return tuple(max(multiple, round(s * scale / multiple) * multiple) for s in size)


@torch.no_grad()
def compute_entry(backbone: Backbone, image: np.ndarray, label: np.ndarray,
                  size: tuple[int, int], spec: CacheSpec) -> CacheEntry:
    """Run the backbone on `image` resized to `size`; keep what FED training needs."""
    output = backbone(backbone.to_input(image, size))
    grid = (size[0] // spec.flow_stride, size[1] // spec.flow_stride)
    class_logits = output.logits[:, :backbone.num_classes].float()
    logits = resample(class_logits, grid)[0].half().cpu()
    condition = None
    if spec.condition_groups:
        condition = condition_on_grid(output.features, grid, spec.condition_groups)[0]
        condition = condition.half().cpu()
    label = torch.from_numpy(resize_label(label, size)).to(class_logits.device).long()
    full = upsample_to(class_logits, size)
    prediction = full[0].argmax(0)
    outcome = torch.where(label == IGNORE_INDEX, VOID,
                          torch.where(prediction != label, MISCLASSIFIED, CORRECT))
    outcome = torch.where(label == OUTLIER_LABEL, OUTLIER, outcome)
    statistics = view_statistics(full, label[None], backbone.num_classes)
    return CacheEntry(logits, condition, outcome.to(torch.uint8).cpu(), statistics.cpu())


def build_cache(backbone: Backbone, dataset: LabelledFolder, spec: CacheSpec,
                directory: str | Path, progress: bool = True) -> list[CacheEntry]:
    """Load the cache for (dataset, spec) from `directory`, computing missing entries."""
    directory = Path(directory) / spec.key(dataset)
    directory.mkdir(parents=True, exist_ok=True)
    sampler = CropSampler(spec.sampler, dataset) if spec.sampler else None
    views = spec.views()
    entries = []
    bar = tqdm(total=len(dataset) * len(views), desc="backbone cache", disable=not progress,
               unit="view")
    for index in range(len(dataset)):
        sample = None  # read lazily: a complete cache never decodes an image
        for view in views:
            path = directory / (f"{index:06d}_d{view:03d}.pt" if sampler
                                else f"{index:06d}_{view:.3f}.pt")
            bar.update(1)
            if path.is_file():
                entries.append(CacheEntry(**torch.load(path, weights_only=True)))
                continue
            sample = sample or dataset[index]
            if sampler:
                rng = draw_generator(spec.seed, sample.name, view)
                image, label = sampler(sample.image, sample.label, rng)
                size = image.shape[:2]
            else:
                image, label = sample.image, sample.label
                size = scaled_size(spec.input_size, view, spec.flow_stride)
            entry = compute_entry(backbone, image, label, size, spec)
            torch.save(entry.payload(), path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            entries.append(entry)
    bar.close()
    LOGGER.info("training cache %s: %d views; %s", directory, len(entries),
                describe_positives(outcome_shares(entries)))
    return entries


def outcome_shares(entries: list[CacheEntry]) -> dict[str, float]:
    """Shares of the training pixels: misclassified among labelled pixels, and among m* = 1
    (void positive) the share that is a real error rather than void or padding; the share of
    pasted outlier pixels."""
    counts = sum(torch.bincount(e.target.ravel(), minlength=4).double() for e in entries)
    correct, misclassified, void, outlier = counts.tolist()
    total = max(correct + misclassified + void + outlier, 1)
    return {"misclassified_of_labelled": misclassified / max(correct + misclassified, 1),
            "misclassified_of_positives": misclassified / max(misclassified + void, 1),
            "void_of_all": void / total, "outlier_of_all": outlier / total}


def describe_positives(shares: dict[str, float]) -> str:
    return (f"{100 * shares['misclassified_of_labelled']:.1f} % of labelled pixels misclassified,"
            f" {100 * shares['misclassified_of_positives']:.0f} % of m* = 1 pixels real errors "
            f"(void {100 * shares['void_of_all']:.1f} %, pasted outliers "
            f"{100 * shares.get('outlier_of_all', 0.0):.2f} % of all)")
