"""FED's reductions over channels and its small dense convolution in forms that onnxruntime's CPU
kernels run fast: used while an ONNX graph is built (`torch.onnx.export`), so every backend of
the exported graph runs them; PyTorch keeps its own operators, faster in eager mode and in
training. Both forms give the same values (tests), up to rounding for sums and convolutions.

onnxruntime reduces over the channel axis several times slower than the arithmetic needs
(ReduceMax, ReduceSum, TopK); a pairwise tree of elementwise maxima and a MatMul with a row of
ones compute the same. Its blocked NCHWc layout pads a dense 2- or 4-channel convolution to 16
channels; one depthwise convolution of the repeated channels does less work. FED-U's 2x2 channel
mixings are MatMuls for the same reason (`blocks.pointwise`). Each form against PyTorch's
operator, and FED's whole head both ways: `scripts/onnx_forms_cost.py` (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Maps = tuple[torch.Tensor, ...]


def building_onnx_graph() -> bool:
    return torch.onnx.is_in_onnx_export()


def _fold(state: Maps, merge: Callable[[Maps, Maps], Maps]) -> Maps:
    """Merge the first half of the channels with the second half until one channel is left;
    an odd last channel is carried to the next round unmerged."""
    while state[0].shape[1] > 1:
        half = state[0].shape[1] // 2
        merged = merge(tuple(s[:, :half] for s in state),
                       tuple(s[:, half:2 * half] for s in state))
        if state[0].shape[1] % 2:
            merged = tuple(torch.cat([m, s[:, 2 * half:]], dim=1)
                           for m, s in zip(merged, state, strict=True))
        state = merged
    return state


def channel_max(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W): the largest value per pixel."""
    if not building_onnx_graph():
        return x.amax(dim=1, keepdim=True)
    return _fold((x,), lambda a, b: (torch.maximum(a[0], b[0]),))[0]


def _merge_top2(a: Maps, b: Maps) -> Maps:
    first = torch.maximum(a[0], b[0])
    second = torch.maximum(torch.minimum(a[0], b[0]), torch.maximum(a[1], b[1]))
    return first, second


def channel_top2(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C >= 2, H, W) -> the largest and the second largest value per pixel, each
    (B, 1, H, W), as `topk(2)` gives them (two equal maxima give equal values)."""
    if x.shape[1] < 2:
        raise ValueError(f"the top two of {x.shape[1]} channel(s) do not exist")
    if not building_onnx_graph():
        first, second = x.topk(2, dim=1).values.split(1, dim=1)
        return first, second
    first, second = _fold((x, torch.full_like(x, float("-inf"))), _merge_top2)
    return first, second


def matmul_over_channels(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), (K, C) -> (B, K, H, W): each pixel's channels times `matrix`, one MatMul."""
    batch, channels, height, width = x.shape
    return (matrix @ x.reshape(batch, channels, height * width)).reshape(batch, -1, height, width)


def channel_sum(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 1, H, W): the sum over channels."""
    if not building_onnx_graph():
        return x.sum(dim=1, keepdim=True)
    return matmul_over_channels(x, torch.ones(1, x.shape[1], dtype=x.dtype, device=x.device))


def dense_conv_as_depthwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
                            ) -> torch.Tensor:
    """`F.conv2d(x, weight, bias)` (dense, no padding, C -> C channels) as one depthwise
    convolution of the input channels repeated C times, summed per output channel."""
    channels = x.shape[1]
    tiled = x.repeat(1, channels, 1, 1)  # channel o * C + i holds input i ...
    kernels = weight.reshape(channels * channels, 1, *weight.shape[2:])  # ... filter weight[o, i]
    per_input = F.conv2d(tiled, kernels, groups=channels * channels)
    batch, _, height, width = per_input.shape
    out = per_input.reshape(batch, channels, channels, height, width).sum(dim=2)
    return out + bias.view(1, -1, 1, 1)
