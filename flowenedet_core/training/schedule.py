"""Learning-rate schedule of METHOD.md: linear warm-up from 1e-6, then x0.1 at fixed steps.

The reference uses 4k warm-up and decay every 15k of 50k iterations; expressed as fractions of the
run (8 % and 30 %) the same shape serves any `--iters`.
"""

from __future__ import annotations

from dataclasses import dataclass

WARMUP_START_LR = 1e-6


@dataclass(frozen=True)
class StepSchedule:
    base_lr: float = 1e-3
    total_iters: int = 50_000
    warmup_fraction: float = 0.08
    decay_every_fraction: float = 0.30
    decay: float = 0.1

    @property
    def warmup_iters(self) -> int:
        return max(1, round(self.warmup_fraction * self.total_iters))

    @property
    def decay_every(self) -> int:
        return max(1, round(self.decay_every_fraction * self.total_iters))

    def lr(self, iteration: int) -> float:
        if iteration < self.warmup_iters:
            progress = iteration / self.warmup_iters
            return WARMUP_START_LR + progress * (self.base_lr - WARMUP_START_LR)
        return self.base_lr * self.decay ** (iteration // self.decay_every)
