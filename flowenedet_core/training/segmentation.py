"""Train a segmentation backbone from scratch (the embedded demo model; FED itself never trains
its backbone). Cross-entropy over train ids with void ignored, random crops and flips, AdamW with
a cosine schedule; the result is a safetensors file plus a JSON that says what it is."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ..backbones.base import Backbone
from ..cityscapes_classes import IGNORE_INDEX
from ..data.datasets import LabelledFolder
from ..metrics.segmentation import ConfusionMatrix

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentationOptions:
    iters: int = 3000
    batch_size: int = 8
    crop: tuple[int, int] = (128, 256)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


def _batch(images: np.ndarray, labels: np.ndarray, options: SegmentationOptions,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = options.crop
    picks = rng.integers(len(images), size=options.batch_size)
    tops = rng.integers(images.shape[1] - height + 1, size=options.batch_size)
    lefts = rng.integers(images.shape[2] - width + 1, size=options.batch_size)
    crops = [(images[i, t:t + height, s:s + width], labels[i, t:t + height, s:s + width])
             for i, t, s in zip(picks, tops, lefts, strict=True)]
    flips = rng.random(options.batch_size) < 0.5
    flipped = [(image[:, ::-1], label[:, ::-1]) if flip else (image, label)
               for (image, label), flip in zip(crops, flips, strict=True)]
    return np.stack([c[0] for c in flipped]), np.stack([c[1] for c in flipped])


def train_segmentation(model: Backbone, train: LabelledFolder, options: SegmentationOptions
                       ) -> Backbone:
    """Trains `model` in place on every image of `train` (held in memory)."""
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    samples = list(train)
    images = np.stack([s.image for s in samples])
    labels = np.stack([s.label for s in samples])
    model.train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr,
                                  weight_decay=options.weight_decay)
    started = time.monotonic()
    for iteration in range(options.iters):
        for group in optimizer.param_groups:
            group["lr"] = options.lr * 0.5 * (1 + math.cos(math.pi * iteration / options.iters))
        image_batch, label_batch = _batch(images, labels, options, rng)
        inputs = model.to_input(list(image_batch), options.crop)
        target = torch.from_numpy(np.ascontiguousarray(label_batch)).long()
        logits = model(inputs).logits[:, :model.num_classes]
        loss = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if iteration % 100 == 0 or iteration == options.iters - 1:
            LOGGER.info("iteration %d/%d loss %.4f (%.0f s)", iteration + 1, options.iters,
                        loss.item(), time.monotonic() - started)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


@torch.no_grad()
def segmentation_miou(model: Backbone, data: LabelledFolder) -> float:
    confusion = ConfusionMatrix(model.num_classes)
    for sample in data:
        inputs = model.to_input(sample.image, sample.label.shape)  # scored at label size
        logits = model(inputs).logits[:, :model.num_classes]
        confusion.update(logits.argmax(1)[0].numpy().astype(np.uint8), sample.label)
    return confusion.miou()


def save_backbone(model: Backbone, path: str | Path, backbone: str, meta: dict) -> Path:
    """`path` (.safetensors) and its JSON beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    info = {"backbone": backbone, "classes": list(model.class_names),
            "input_size": list(model.preprocessing.input_size), **meta}
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return path
