"""The interface every frozen segmentation model implements.

A backbone maps a preprocessed batch to class logits and to the feature map FED-C is conditioned on.
It also owns its preprocessing (scaling, mean/std, input size), so callers hand it uint8 RGB images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Preprocessing:
    """How a uint8 RGB image becomes the backbone's input tensor."""

    input_size: tuple[int, int]  # (height, width) the model is run at by default
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # subtracted after scaling to [0, 255]
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)  # divides after the mean


@dataclass
class BackboneOutput:
    """One forward pass of a frozen model."""

    logits: torch.Tensor  # (B, C_out, h, w); C_out may include a void channel
    features: torch.Tensor  # (B, V, h', w'): what FED-C pools into its condition
    classifier_input: torch.Tensor  # (B, V', h'', w''): what `classify` maps to logits


class Backbone(nn.Module):
    """A frozen semantic segmentation model.

    Subclasses set `name`, `class_names` (the evaluated classes, in logit-channel order),
    `preprocessing`, and implement `forward` and `classify`. Channels beyond
    `len(class_names)` (ERFNet's void channel) are returned by `forward` but are not classes.
    """

    name: str
    class_names: tuple[str, ...]
    preprocessing: Preprocessing

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def forward(self, x: torch.Tensor) -> BackboneOutput:  # pragma: no cover - interface
        raise NotImplementedError

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """The final classifier alone: used by MC-dropout."""
        raise NotImplementedError

    def logits_on_grid(self, output: BackboneOutput, grid: tuple[int, int]) -> torch.Tensor:
        """The logits area-averaged onto FED's grid; backbones may compute it more cheaply."""
        return resample(output.logits, grid)

    def to_input(self, images: np.ndarray | list[np.ndarray],
                 size: tuple[int, int] | None = None) -> torch.Tensor:
        """uint8 RGB image(s) (H, W, 3) -> normalised (B, 3, h, w) float tensor at `size`."""
        from ..data.transforms import resize_image

        batch = [images] if isinstance(images, np.ndarray) else list(images)
        size = size or self.preprocessing.input_size
        arrays = [resize_image(image, size) for image in batch]
        device = next(self.parameters()).device
        x = torch.from_numpy(np.stack(arrays)).to(device).permute(0, 3, 1, 2).float()
        mean = torch.tensor(self.preprocessing.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.preprocessing.std, device=device).view(1, 3, 1, 1)
        return (x - mean) / std


def upsample_to(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w) logits or score maps -> `size` bilinearly (the evaluation convention)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)


def resample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Area-average when shrinking, bilinear when growing; unchanged when equal.

    Shrinking by whole factors is a plain average pool (what ONNX and TensorRT export)."""
    height, width = maps.shape[-2:]
    if (height, width) == tuple(size):
        return maps
    if height >= size[0] and width >= size[1]:
        if height % size[0] == 0 and width % size[1] == 0:
            return F.avg_pool2d(maps, (height // size[0], width // size[1]))
        return F.adaptive_avg_pool2d(maps, size)
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode, no gradients: FED never changes the segmentation model."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model
