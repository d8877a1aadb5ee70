"""FED's 2-D energy input z from the classifier's logits (METHOD.md, "Energy input")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

ENERGY_EPS = 1e-6


def standardize(logits: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-class standardisation (y_c - mu_c) / sd_c; mean/std broadcast as (1, C, 1, 1)."""
    return (logits - mean) / std


def energy_input(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) logits -> (B, 2, h, w): z1 = log sigmoid(-E), z2 = log(1 - sigmoid(-E) + eps).

    E = -logsumexp_c(logits) is the free energy; callers standardise the logits first.
    """
    # logsumexp written out (max-shifted, as torch computes it): onnxruntime's ReduceLogSumExp
    # kernel is ~4x slower than these five ops
    peak = logits.amax(dim=1, keepdim=True)
    negative_energy = peak + torch.log(torch.exp(logits - peak).sum(dim=1, keepdim=True))
    return torch.cat([F.logsigmoid(negative_energy),
                      torch.log1p(ENERGY_EPS - torch.sigmoid(negative_energy))], dim=1)


def margin_input(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) raw logits -> (B, 2, h, w): log(1 + top-1 minus top-2 logit) and log MSP.

    What MSP sees and the energy does not: how far the winning class is ahead of the next, and
    how much of the softmax it holds. An extra condition of the flow (`FEDConfig.margin`)."""
    top = logits.topk(2, dim=1).values
    peak = top[:, :1]
    log_msp = -torch.log(torch.exp(logits - peak).sum(dim=1, keepdim=True))
    return torch.cat([torch.log1p(top[:, :1] - top[:, 1:]), log_msp], dim=1)
