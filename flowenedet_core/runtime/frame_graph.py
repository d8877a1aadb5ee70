"""The host work of `Pipeline.infer` as a module, so that on a GPU it runs beside the model.

    frame uint8 (N, H, W, 3) RGB at the camera's size
        -> antialiased bilinear resize to the model's size, rounded to uint8 (`resize_image`)
        -> InferenceGraph
        -> labels (nearest, pixel centres) and uncertainty (bilinear) back at (H, W)

Same operations as the host path (`resize_image`, cv2 INTER_NEAREST_EXACT / INTER_LINEAR), so a
frame gives the same prediction whichever side resizes it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..export.graph import InferenceGraph


class FrameGraph(nn.Module):
    """`InferenceGraph` taking and returning frames of any size.

    Returns (labels, uncertainty) at the frame's size, then the same at the model's size (what
    evaluation scores on); labels only for a graph without a head."""

    def __init__(self, graph: InferenceGraph) -> None:
        super().__init__()
        self.graph = graph
        self.image_size = graph.image_size
        self.output_names = graph.output_names

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frame_size = tuple(frames.shape[1:3])
        if frame_size == self.image_size:
            outputs = self.graph(frames)
            return outputs + outputs
        images = F.interpolate(frames.permute(0, 3, 1, 2).float(), size=self.image_size,
                               mode="bilinear", align_corners=False, antialias=True)
        images = images.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        outputs = self.graph(images)
        labels = F.interpolate(outputs[0][:, None].float(), size=frame_size,
                               mode="nearest-exact")[:, 0].to(torch.uint8)
        if len(outputs) == 1:
            return labels, outputs[0]
        uncertainty = F.interpolate(outputs[1][:, None], size=frame_size, mode="bilinear",
                                    align_corners=False)[:, 0]
        return labels, uncertainty, *outputs
