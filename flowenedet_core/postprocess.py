"""SML-style boundary suppression and dilated Gaussian smoothing of any score map, and the plain
Gaussian smoothing the reference applies to the MSP / MaxLogit / Energy baselines.

Scores peak along every class boundary of the prediction, where a wrong class is expected and no
anomaly is. Boundary suppression (Jung et al., ICCV 2021) replaces scores within `width` pixels of a
predicted boundary by the mean of their non-boundary 3x3 neighbours, peeling the band one pixel per
pass from its outer edge down to the boundary itself, so values flow in from the regions' interiors
(SML stops one pass early and leaves the boundary pixels; here they are replaced too). A dilated
Gaussian (7x7, sigma 1, dilation 6) then smooths the map, suppressing isolated peaks.
`gaussian_smooth` with its defaults (7x7, sigma 1, no dilation) is the baselines' smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BoundarySmoothingConfig:
    width: int = 4  # half-width in pixels of the band around predicted boundaries
    kernel_size: int = 7  # Gaussian kernel of the dilated smoothing
    sigma: float = 1.0
    dilation: int = 6


def prediction_boundaries(prediction: torch.Tensor) -> torch.Tensor:
    """(B, H, W) class map -> (B, 1, H, W) bool: a 4-neighbour has another class."""
    labels = prediction.unsqueeze(1).float()
    padded = F.pad(labels, (1, 1, 1, 1), mode="replicate")
    neighbours = (padded[..., :-2, 1:-1], padded[..., 2:, 1:-1],
                  padded[..., 1:-1, :-2], padded[..., 1:-1, 2:])
    return torch.stack([n != labels for n in neighbours]).any(0)


def gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    profile = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    kernel = torch.outer(profile, profile)
    return (kernel / kernel.sum()).view(1, 1, size, size)


def suppress_boundaries(scores: torch.Tensor, prediction: torch.Tensor,
                        config: BoundarySmoothingConfig = BoundarySmoothingConfig()
                        ) -> torch.Tensor:
    """(B, H, W) scores and predicted classes -> post-processed (B, H, W) scores."""
    out = scores.unsqueeze(1).float()
    boundaries = prediction_boundaries(prediction).float()
    ones = torch.ones(1, 1, 3, 3, device=out.device)
    for width in range(config.width, -1, -1):
        expanded = F.max_pool2d(boundaries, 2 * width + 1, stride=1, padding=width)
        # Pixels of the band with a non-band 3x3 neighbour take those neighbours' mean.
        keep = 1 - expanded
        total = F.conv2d(F.pad(out * keep, (1, 1, 1, 1), mode="replicate"), ones)
        count = F.conv2d(F.pad(keep, (1, 1, 1, 1), mode="replicate"), ones)
        averaged = torch.where(count > 0, total / count.clamp_min(1), out)
        out = torch.where(expanded > 0, averaged, out)
    return gaussian_smooth(out[:, 0], config.kernel_size, config.sigma, config.dilation)


def gaussian_smooth(scores: torch.Tensor, kernel_size: int = 7, sigma: float = 1.0,
                    dilation: int = 1) -> torch.Tensor:
    """(B, H, W) scores -> (B, H, W), convolved with a normalised Gaussian (replicate padding)."""
    kernel = gaussian_kernel(kernel_size, sigma).to(scores.device)
    pad = dilation * (kernel_size // 2)
    padded = F.pad(scores.unsqueeze(1).float(), (pad, pad, pad, pad), mode="replicate")
    return F.conv2d(padded, kernel, dilation=dilation)[:, 0]
