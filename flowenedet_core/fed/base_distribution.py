"""FED's class-conditional base distribution g(beta, mu, U) and its two class logits."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import PointwiseConv


class ClassLogitGaussian(nn.Module):
    """A 2-D Gaussian with precision factor U (lower triangular) whose per-dimension
    log-density terms become the logits of m = 0 (correct) and m = 1 (misclassified / OOD).

    logit_m = ldj_m + log beta_m + log U_mm - 0.5 * ((U (u - mu))_m)^2, with U's diagonal
    softplus(rho) / ln 2 and beta_m = sigmoid(-w_m). Every parameter starts at zero: U = I,
    beta = 1/2.
    `full_covariance=False` fixes the off-diagonal of U at zero.
    """

    def __init__(self, full_covariance: bool = True) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(2))
        self.rho = nn.Parameter(torch.zeros(2))
        self.prior = nn.Parameter(torch.zeros(2))
        self.off_diagonal = nn.Parameter(torch.zeros(1)) if full_covariance else None

    def forward(self, u: torch.Tensor, log_det: torch.Tensor) -> torch.Tensor:
        """u, log_det: (B, 2, H, W) -> class logits (B, 2, H, W)."""
        diagonal = F.softplus(self.rho) / math.log(2.0)
        centred = u - self.mean.view(1, 2, 1, 1)
        first = diagonal[0] * centred[:, :1]
        second = diagonal[1] * centred[:, 1:]
        if self.off_diagonal is not None:
            second = second + self.off_diagonal * centred[:, :1]
        projected = torch.cat([first, second], dim=1)
        constant = F.logsigmoid(-self.prior) + torch.log(diagonal)
        return log_det + constant.view(1, 2, 1, 1) - 0.5 * projected ** 2


class ConditionPrior(nn.Module):
    """The prior odds of m = 1 as a function of the condition: a linear map of the standardised
    condition added to the logit of m = 1 (`FEDConfig.condition_prior`).

    ClassLogitGaussian's beta is one number: how often the model is wrong anywhere. With this,
    p(m | z, a) is proportional to p(z | m, a) p(m | a): the condition moves the odds directly, not
    only through the latent point the coupling blocks shift, which a margin-conditioned flow does
    not learn to use (docs/outlier-exposure.md). Zero weights at the start, so training begins
    from the constant prior; the condition's mean and standard deviation are set with the
    ActNorms (`FlowEneDet.initialize`), so the weights are on one scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear = PointwiseConv(channels, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("std", torch.ones(1, channels, 1, 1))

    @torch.no_grad()
    def initialize(self, condition: torch.Tensor) -> None:
        """`condition`: (P, N) pooled pixels."""
        self.mean.copy_(condition.mean(dim=1).view_as(self.mean))
        self.std.copy_(condition.std(dim=1).view_as(self.std) + 1e-6)

    def forward(self, logits: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 2, H, W) -> the same with the prior odds added to m = 1's."""
        odds = self.linear((condition - self.mean) / self.std)
        return torch.cat([logits[:, :1], logits[:, 1:] + odds], dim=1)
