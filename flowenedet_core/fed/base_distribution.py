"""FED's class-conditional base distribution g(beta, mu, U) and its two class logits."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


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
