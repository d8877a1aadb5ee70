"""Train FED on a frozen backbone: backbone outputs per training view (cached, or computed online
from sampler crops), random crop / flip of the maps, AdamW with warm-up and step decay, resumable,
and data-parallel over processes when started by `torchrun`."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from ..checkpoint import BackboneInfo, DetectorCheckpoint, save_checkpoint
from ..cityscapes_classes import IGNORE_INDEX
from ..fed.detector import FEDConfig, FlowEneDet, energy_on_grid, margin_on_grid
from ..fed.statistics import SMLStatistics
from .cache import MISCLASSIFIED, OUTLIER, VOID, CacheEntry
from .schedule import StepSchedule
from .sources import ViewSource

LOGGER = logging.getLogger(__name__)
STATE_FILE = "training_state.pt"


@dataclass(frozen=True)
class TrainOptions:
    iters: int = 3000  # optimiser steps
    lr: float = 1e-3  # AdamW peak learning rate (after warm-up)
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    batch_size: int = 2  # crops per step (gradients accumulated: crops may differ in size)
    crop_size: tuple[int, int] = (512, 1024)  # random crop in image pixels at the sampled scale
    flip: bool = True  # random horizontal flip of the maps (sampler views are flipped already)
    seed: int = 0
    save_every: int = 250  # iterations between resumable snapshots
    void_positive: bool = True  # void pixels count as m* = 1 (METHOD.md); False: ignored
    outlier_weight: float = 1.0  # loss weight of pasted outlier pixels (m* = 1), others 1
    init_crops: int = 32  # crops whose pooled statistics initialise the ActNorms


@dataclass
class Crop:
    z: torch.Tensor  # (1, 2, h, w) energy input
    condition: torch.Tensor | None  # (1, P, h, w)
    target: torch.Tensor  # (1, H, W) int64
    weight: torch.Tensor | None = None  # (1, H, W) per-pixel loss weight; None: all 1


def training_target(outcome: torch.Tensor, void_positive: bool) -> torch.Tensor:
    """Cached pixel outcomes -> m* (int64): 1 misclassified or pasted outlier, 0 correct;
    void -> 1 or ignored."""
    target = ((outcome == MISCLASSIFIED) | (outcome == OUTLIER)).long()
    return torch.where(outcome == VOID, 1 if void_positive else IGNORE_INDEX, target)


def outlier_weights(outcome: torch.Tensor, weight: float) -> torch.Tensor | None:
    """Per-pixel loss weights: `weight` on pasted outliers, 1 elsewhere (None when all are 1)."""
    if weight == 1.0 or not bool((outcome == OUTLIER).any()):
        return None
    return torch.where(outcome == OUTLIER, weight, 1.0)


def random_crop(entry: CacheEntry, crop_size: tuple[int, int], stride: int, flip: bool,
                generator: torch.Generator, void_positive: bool = True,
                statistics: tuple[torch.Tensor, torch.Tensor] | None = None,
                features: bool = True, margin: bool = False, outlier_weight: float = 1.0
                ) -> Crop:
    """A crop aligned to the flow grid, so the target crop matches the flow maps exactly; the
    energy input comes from the cropped logits (standardised when `statistics` are given).
    The condition: the cached feature groups (`features`, where cached), then the margin of the
    raw logits (`margin`)."""
    grid_h, grid_w = entry.logits.shape[-2:]
    crop_h, crop_w = min(crop_size[0] // stride, grid_h), min(crop_size[1] // stride, grid_w)
    top = int(torch.randint(0, grid_h - crop_h + 1, (1,), generator=generator))
    left = int(torch.randint(0, grid_w - crop_w + 1, (1,), generator=generator))
    logits = entry.logits[None, :, top:top + crop_h, left:left + crop_w].float()
    z = energy_on_grid(logits, (crop_h, crop_w), statistics)
    parts = []
    if features and entry.condition is not None:
        parts.append(entry.condition[None, :, top:top + crop_h, left:left + crop_w].float())
    if margin:
        parts.append(margin_on_grid(logits, (crop_h, crop_w)))
    condition = torch.cat(parts, dim=1) if parts else None
    scale_h = entry.target.shape[0] // grid_h
    scale_w = entry.target.shape[1] // grid_w
    outcome = entry.target[top * scale_h:(top + crop_h) * scale_h,
                           left * scale_w:(left + crop_w) * scale_w]
    target = training_target(outcome, void_positive)[None]
    weight = outlier_weights(outcome, outlier_weight)
    weight = None if weight is None else weight[None]
    if flip and bool(torch.rand((), generator=generator) < 0.5):
        z, target = z.flip(-1), target.flip(-1)
        condition = None if condition is None else condition.flip(-1)
        weight = None if weight is None else weight.flip(-1)
    return Crop(z, condition, target, weight)


def crop_loss(model: torch.nn.Module, crop: Crop, device: torch.device) -> torch.Tensor:
    """Pixel cross-entropy of the two FED logits, upsampled bilinearly to label resolution.

    A weighted mean over the crop's non-ignored pixels (`crop.weight`, else all weights 1); a
    crop with none (all void, void ignored) contributes zero instead of NaN."""
    condition = None if crop.condition is None else crop.condition.to(device)
    logits = model(crop.z.to(device), condition)
    logits = F.interpolate(logits, size=crop.target.shape[-2:], mode="bilinear",
                           align_corners=False)
    target = crop.target.to(device)
    valid = (target != IGNORE_INDEX).float()
    weight = valid if crop.weight is None else crop.weight.to(device) * valid
    losses = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="none")
    return (losses * weight).sum() / weight.sum().clamp_min(1)


def distributed_context() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world_size) if world_size > 1 else (0, 1)


class Trainer:
    def __init__(self, config: FEDConfig, statistics: SMLStatistics, backbone: BackboneInfo,
                 source: ViewSource, options: TrainOptions, out_dir: str | Path,
                 device: torch.device | str = "cpu", extra: dict | None = None) -> None:
        """`extra`: what else the checkpoint's training record should say (views, statistics)."""
        self.rank, self.world_size = distributed_context()
        self.options = options
        self.extra = extra or {}
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        self.backbone = backbone
        self.source = source
        self.stride = config.flow_stride
        if config.variant == "fed-c" and not source.has_condition:
            raise ValueError("FED-C needs a cache with conditions (condition_groups > 0)")
        torch.manual_seed(options.seed)  # same initial parameters on every rank
        self.model = FlowEneDet(config, statistics).to(self.device).train()
        self.standardization = statistics.tensors() if config.standardize else None
        self.generator = torch.Generator().manual_seed(options.seed + 1000 * self.rank)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=options.lr,
                                           weight_decay=options.weight_decay)
        self.schedule = StepSchedule(base_lr=options.lr, total_iters=options.iters)
        self.iteration = 0
        self.history: list[float] = []

    def sample(self) -> Crop:
        config = self.model.config
        return random_crop(self.source.draw(self.generator), self.options.crop_size, self.stride,
                           self.options.flip, self.generator, self.options.void_positive,
                           self.standardization, features=config.variant == "fed-c",
                           margin=config.margin, outlier_weight=self.options.outlier_weight)

    def state_path(self) -> Path:
        return self.out_dir / STATE_FILE

    def resume(self) -> bool:
        path = self.state_path()
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"][self.rank])
        self.iteration = int(state["iteration"])
        self.history = list(state["history"])
        LOGGER.info("resumed from %s at iteration %d", path, self.iteration)
        return True

    def snapshot(self) -> None:
        generators = [self.generator.get_state()]
        if self.world_size > 1:
            generators = [torch.empty_like(generators[0]) for _ in range(self.world_size)]
            dist.all_gather(generators, self.generator.get_state())
        if self.rank != 0:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path().with_suffix(".tmp")
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "generator": generators, "iteration": self.iteration,
                    "history": self.history}, temporary)
        temporary.replace(self.state_path())

    def run(self, progress: bool = True) -> DetectorCheckpoint:
        options = self.options
        model: torch.nn.Module = self.model
        if self.iteration == 0:  # ActNorm data-initialisation
            crops = [self.sample() for _ in range(options.init_crops)]
            self.model.initialize([(crop.z.to(self.device), None if crop.condition is None
                                    else crop.condition.to(self.device)) for crop in crops])
        if self.world_size > 1:  # broadcasts rank 0's parameters and buffers
            model = torch.nn.parallel.DistributedDataParallel(model)
        started = time.monotonic()
        bar = tqdm(total=options.iters, initial=self.iteration, disable=not progress or self.rank,
                   desc=f"train {self.model.config.variant}", unit="it")
        smoothed = self.history[-1] if self.history else None
        while self.iteration < options.iters:
            for group in self.optimizer.param_groups:
                group["lr"] = self.schedule.lr(self.iteration)
            self.optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for _ in range(options.batch_size):
                loss = crop_loss(model, self.sample(), self.device) / options.batch_size
                loss.backward()
                total += loss.item()
            self.optimizer.step()
            self.iteration += 1
            smoothed = total if smoothed is None else 0.98 * smoothed + 0.02 * total
            if self.iteration % 50 == 0 or self.iteration == options.iters:
                self.history.append(smoothed)
            bar.update(1)
            bar.set_postfix(loss=f"{smoothed:.4f}", lr=f"{self.schedule.lr(self.iteration):.1e}")
            if self.iteration % options.save_every == 0:
                self.snapshot()
        bar.close()
        self.snapshot()
        checkpoint = DetectorCheckpoint(
            self.model.eval(), self.backbone,
            {"options": asdict(options), **self.extra, "world_size": self.world_size,
             "final_loss": smoothed, "loss_history_every_50": self.history,
             "seconds_this_run": round(time.monotonic() - started, 1)})
        if self.rank == 0:
            save_checkpoint(self.out_dir, checkpoint)
        return checkpoint
