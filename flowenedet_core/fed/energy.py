"""FED's 2-D energy input z from the classifier's logits (METHOD.md, "Energy input")."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .onnx_forms import channel_max, channel_sum, channel_top2

ENERGY_EPS = 1e-6


def standardize(logits: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-class standardisation (y_c - mu_c) / sd_c; mean/std broadcast as (1, C, 1, 1)."""
    return (logits - mean) / std


def energy_input(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) logits -> (B, 2, h, w): z1 = log sigmoid(-E), z2 = log(1 - sigmoid(-E) + eps).

    E = -logsumexp_c(logits) is the free energy; callers standardise the logits first.
    """
    # logsumexp written out (max-shifted, as torch computes it): onnxruntime's ReduceLogSumExp
    # kernel is ~4x slower than these ops (onnx_forms: the graph's forms of max and sum)
    peak = channel_max(logits)
    negative_energy = peak + torch.log(channel_sum(torch.exp(logits - peak)))
    return torch.cat([F.logsigmoid(negative_energy),
                      torch.log1p(ENERGY_EPS - torch.sigmoid(negative_energy))], dim=1)


def margin_input(logits: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) raw logits -> (B, 2, h, w): log(1 + top-1 minus top-2 logit) and log MSP.

    What MSP sees and the energy does not: how far the winning class is ahead of the next, and
    how much of the softmax it holds. An extra condition of the flow (`FEDConfig.margin`)."""
    first, second = channel_top2(logits)
    log_msp = -torch.log(channel_sum(torch.exp(logits - first)))
    return torch.cat([torch.log1p(first - second), log_msp], dim=1)
