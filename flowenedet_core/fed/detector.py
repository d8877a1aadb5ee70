"""FlowEneDet: FED-U (unconditional) and FED-C (conditioned on pooled backbone features)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

from ..backbones.base import resample
from ..errors import ConfigError
from .base_distribution import ClassLogitGaussian, ConditionPrior
from .blocks import LATENT_DIMS, FlowBlock
from .energy import energy_input, margin_input, standardize
from .statistics import SMLStatistics

Variant = Literal["fed-u", "fed-c"]
MARGIN_CHANNELS = 2  # margin_input's
# z, condition -> (u, per-dimension log-det): FlowEneDet.transform or an equivalent (fused.py)
FlowTransform = Callable[[torch.Tensor, "torch.Tensor | None"], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class FEDConfig:
    """Hyper-parameters of one detector (METHOD.md names in brackets)."""

    variant: Variant = "fed-u"  # fed-u: energy only; fed-c: also conditioned on features
    num_blocks: int = 8  # coupling blocks [L]
    kernel_size: int = 7  # subnet's spatial convolution [K]
    separable: bool = False  # depthwise KxK in the subnets (cheaper FED-C; not in METHOD.md)
    condition_groups: int = 32  # channel groups averaged into the condition [P]; FED-C only
    full_covariance: bool = True  # full (lower-triangular U) or diagonal base covariance
    dropout: float = 0.2  # Dropout2d inside the coupling subnets
    flow_stride: int = 4  # the flow runs at input_size / flow_stride (1/4: the classifier's)
    standardize: bool = True  # SML standardisation of the logits before the energy
    margin: bool = False  # also condition on the top-1/top-2 margin and log MSP (2 channels)
    condition_prior: bool = False  # the prior odds of m = 1 a linear map of the condition

    def __post_init__(self) -> None:
        if self.variant not in ("fed-u", "fed-c"):
            raise ConfigError(f"variant must be 'fed-u' or 'fed-c', got {self.variant!r}")
        for name in ("num_blocks", "kernel_size", "condition_groups", "flow_stride"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd, got {self.kernel_size}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.condition_prior and not self.condition_channels:
            raise ConfigError("condition_prior needs a condition: FED-C or the margin")

    @property
    def condition_channels(self) -> int:
        """Features' groups (FED-C), then the margin's two channels (`margin`)."""
        groups = self.condition_groups if self.variant == "fed-c" else 0
        return groups + (MARGIN_CHANNELS if self.margin else 0)

    def to_dict(self) -> dict:
        return asdict(self)


def group_pool(features: torch.Tensor, groups: int) -> torch.Tensor:
    """Average (B, V, h, w) features over `groups` contiguous channel groups: (B, groups, h, w)."""
    batch, channels, height, width = features.shape
    if channels % groups:
        raise ConfigError(f"{channels} feature channels cannot be split into {groups} groups "
                          "(condition_groups must divide the backbone's feature channels)")
    return features.view(batch, groups, channels // groups, height, width).mean(dim=2)


def energy_on_grid(logits: torch.Tensor, grid: tuple[int, int],
                   statistics: tuple[torch.Tensor, torch.Tensor] | None,
                   num_classes: int | None = None) -> torch.Tensor:
    """Logits -> energy input z (B, 2, h, w) on the flow grid, standardised if given stats.

    Only the first `num_classes` channels (default: all) count; they are taken after
    resampling, so no full-resolution copy is made."""
    logits = resample(logits.float(), grid)[:, :num_classes]
    if statistics is not None:
        logits = standardize(logits, *statistics)
    return energy_input(logits)


def condition_on_grid(features: torch.Tensor, grid: tuple[int, int], groups: int) -> torch.Tensor:
    """Backbone features -> FED-C condition a (B, P, h, w): channel-group means, on the grid."""
    return resample(group_pool(features.float(), groups), grid)


def margin_on_grid(logits: torch.Tensor, grid: tuple[int, int],
                   num_classes: int | None = None) -> torch.Tensor:
    """Raw logits -> the margin condition (B, 2, h, w) on the flow grid (`margin_input`)."""
    return margin_input(resample(logits.float(), grid)[:, :num_classes])


class FlowEneDet(nn.Module):
    """Per-pixel p(m = 1 | z, a): the probability that the frozen model's prediction is wrong."""

    def __init__(self, config: FEDConfig, statistics: SMLStatistics) -> None:
        super().__init__()
        self.config = config
        self.statistics = statistics
        mean, std = statistics.tensors()
        self.register_buffer("logit_mean", mean)
        self.register_buffer("logit_std", std)
        self.blocks = nn.ModuleList(
            FlowBlock(parity=index, condition_channels=config.condition_channels,
                      kernel_size=config.kernel_size, dropout=config.dropout,
                      separable=config.separable)
            for index in range(config.num_blocks))
        self.base = ClassLogitGaussian(full_covariance=config.full_covariance)
        self.condition_prior = (ConditionPrior(config.condition_channels)
                                if config.condition_prior else None)

    @property
    def num_classes(self) -> int:
        return len(self.statistics.class_names)

    def grid_size(self, input_size: tuple[int, int]) -> tuple[int, int]:
        stride = self.config.flow_stride
        return (-(-input_size[0] // stride), -(-input_size[1] // stride))

    def flow_inputs(self, logits: torch.Tensor, features: torch.Tensor | None,
                    input_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Backbone outputs -> (z (B, 2, h, w), condition (B, P, h, w) or None) on the flow grid."""
        grid = self.grid_size(input_size)
        statistics = (self.logit_mean, self.logit_std) if self.config.standardize else None
        z = energy_on_grid(logits, grid, statistics, self.num_classes)
        parts = []
        if self.config.variant == "fed-c":
            if features is None:
                raise ConfigError("FED-C needs the backbone's features")
            parts.append(condition_on_grid(features, grid, self.config.condition_groups))
        if self.config.margin:
            parts.append(margin_on_grid(logits, grid, self.num_classes))
        return z, torch.cat(parts, dim=1) if parts else None

    @torch.no_grad()
    def initialize(self, samples: Sequence[tuple[torch.Tensor, torch.Tensor | None]]) -> None:
        """Data-initialise every ActNorm from several (z, condition) crops at once: block by
        block, from the mean and standard deviation of that block's input pooled over all of
        them (the crops may differ in size). One crop is a noisy estimate of the training
        data's statistics, and the first steps of training depend on it (METHOD.md). The
        condition prior's standardisation comes from the same crops' conditions."""
        inputs = [z for z, _ in samples]
        for block in self.blocks:
            pooled = torch.cat([z.transpose(0, 1).reshape(z.shape[1], -1) for z in inputs], 1)
            block.actnorm.initialize(pooled[None, :, None])
            inputs = [block(z, condition)[0]
                      for z, (_, condition) in zip(inputs, samples, strict=True)]
        if self.condition_prior is not None:
            self.condition_prior.initialize(torch.cat([c.transpose(0, 1).reshape(c.shape[1], -1)
                                             for _, c in samples], 1))

    def transform(self, z: torch.Tensor, condition: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow: z -> (u, per-dimension log-det (B, 2, h, w)); in eval mode through the
        blocks' split form (`FlowBlock.infer`), the same numbers with less work."""
        if not self.training:
            return self._transform_split(z, condition)
        log_det = torch.zeros_like(z)
        for block in self.blocks:
            z, step = block(z, condition)
            log_det = log_det + step
        return z, log_det

    def _transform_split(self, z: torch.Tensor, condition: torch.Tensor | None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums each dimension's z-dependent log-det maps apart (B, 1, h, w each) and the
        constant parts as two numbers, joined once at the end."""
        maps: list[torch.Tensor | None] = [None] * LATENT_DIMS
        constant = torch.zeros(LATENT_DIMS, dtype=z.dtype, device=z.device)
        for block in self.blocks:
            z, step, step_constant = block.infer(z, condition)
            moved = 1 - block.kept
            maps[moved] = step if maps[moved] is None else maps[moved] + step
            constant = constant + step_constant
        log_det = torch.cat([torch.zeros_like(z[:, :1]) if part is None else part
                             for part in maps], dim=1)
        return z, log_det + constant.view(1, LATENT_DIMS, 1, 1)

    def inverse(self, u: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        for block in reversed(self.blocks):
            u = block.inverse(u, condition)
        return u

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Energy input (and condition) -> class logits (B, 2, h, w); softmax gives p(m | z, a)."""
        return self.class_logits(*self.transform(z, condition), condition)

    def class_logits(self, u: torch.Tensor, log_det: torch.Tensor,
                     condition: torch.Tensor | None) -> torch.Tensor:
        """The flow's output (u, log-det) -> class logits: the base distribution's, with the
        condition's prior odds where `condition_prior`."""
        logits = self.base(u, log_det)
        if self.condition_prior is None:
            return logits
        return self.condition_prior(logits, condition)

    def score(self, logits: torch.Tensor, features: torch.Tensor | None,
              input_size: tuple[int, int], transform: FlowTransform | None = None
              ) -> torch.Tensor:
        """Backbone outputs -> p(m = 1) (B, h, w) on the flow grid.

        `logits` may be at any resolution, the flow grid's included (`Backbone.logits_on_grid`).
        `transform` replaces `self.transform` (the fused flow); the result must be the same.
        """
        flow = self.transform if transform is None else transform
        z, condition = self.flow_inputs(logits, features, input_size)
        class_logits = self.class_logits(*flow(z, condition), condition)
        return torch.sigmoid(class_logits[:, 1] - class_logits[:, 0])  # 2-class softmax
