"""Where training views come from: a disk cache (the CPU path) or the sampler online (GPU).

Online, data-loader workers decode frames and draw sampler crops in parallel while the main
process runs the frozen backbone on each crop, so a GPU sees a fresh augmentation every
iteration; on a CPU, where the backbone dominates, a cache of N draws per frame is reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..backbones.base import Backbone
from ..data.datasets import LabelledFolder
from .cache import CacheEntry, CacheSpec, compute_entry
from .sampler import CropSampler, draw_generator


class ViewSource(Protocol):
    has_condition: bool

    def draw(self, generator: torch.Generator) -> CacheEntry:
        """One training view (the generator picks it where the source chooses)."""


class CachedViews:
    """Uniform draws from a list of cached views."""

    def __init__(self, entries: list[CacheEntry]) -> None:
        if not entries:
            raise ValueError("no training views")
        self.entries = entries
        self.has_condition = entries[0].condition is not None

    def draw(self, generator: torch.Generator) -> CacheEntry:
        return self.entries[int(torch.randint(0, len(self.entries), (1,), generator=generator))]


class SampledCrops(IterableDataset):
    """An endless stream of sampler crops of random frames; each worker has its own stream."""

    def __init__(self, dataset: LabelledFolder, sampler: CropSampler, seed: int) -> None:
        self.dataset, self.sampler, self.seed = dataset, sampler, seed

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        worker = get_worker_info()
        stream = worker.id if worker else 0
        picker = np.random.default_rng([self.seed, stream])
        for draw in range(2 ** 62):
            sample = self.dataset[int(picker.integers(len(self.dataset)))]
            rng = draw_generator(self.seed, f"{stream}:{sample.name}", draw)
            yield self.sampler(sample.image, sample.label, rng)


class OnlineViews:
    """A fresh sampler crop per draw, the backbone run on it in this process."""

    def __init__(self, backbone: Backbone, dataset: LabelledFolder, spec: CacheSpec,
                 workers: int, seed: int) -> None:
        if spec.sampler is None:
            raise ValueError("online views need a sampler")
        self.backbone, self.spec = backbone, spec
        self.has_condition = spec.condition_groups > 0
        stream = SampledCrops(dataset, CropSampler(spec.sampler, dataset), seed)
        loader = DataLoader(stream, batch_size=None, num_workers=workers,
                            pin_memory=torch.cuda.is_available(),
                            persistent_workers=workers > 0)
        self.crops = iter(loader)

    def draw(self, generator: torch.Generator) -> CacheEntry:
        """The next crop of the stream (the workers' own generators pick it)."""
        image, label = (np.asarray(part) for part in next(self.crops))
        return compute_entry(self.backbone, image, label, image.shape[:2], self.spec)
