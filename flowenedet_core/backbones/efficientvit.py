"""EfficientViT-Seg-B0 (Cai, Li, Gan, Han, ICCV 2023) for Cityscapes.

Written after the public mit-han-lab/efficientvit code (Apache-2.0; `models/nn/ops.py`,
`models/efficientvit/backbone.py`, `seg.py`) with its module names, so the official release file
`cityscapes_b0.pt` loads strictly. Input: RGB with ImageNet normalisation, published at 1024x2048;
output: 19 logits at 1/8. Features (FED-C condition and MC-dropout classifier input): the
128-channel map that enters the 1x1 classifier, at 1/8.

Sides divisible by 32 reproduce upstream exactly. Other sides run too (the training cache's
random scales give multiples of 4): upstream upsamples the stride-32 and stride-16 head inputs by
fixed factors, which only fits when the sides divide by 32; here they are upsampled to the
stride-8 map's size, which is the same computation wherever both apply.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..cityscapes_classes import CITYSCAPES_CLASSES
from .base import Backbone, BackboneOutput, Preprocessing, freeze
from .segformer import IMAGENET_MEAN, IMAGENET_STD
from .weights import load_into, read_state_dict

BN_EPS = 1e-5
B0_WIDTHS = (8, 16, 32, 64, 128)  # input stem, then stages 1..4 (strides 2, 4, 8, 16, 32)
B0_DEPTHS = (1, 2, 2, 2, 2)  # blocks per stage (EfficientViT blocks in stages 3 and 4)
B0_HEAD_DIM = 16  # channels per linear-attention head


class ConvNormAct(nn.Module):
    """A "same"-padded convolution, optionally followed by BatchNorm and hard-swish."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, groups: int = 1, bias: bool = False, norm: bool = True,
                 act: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              padding=kernel_size // 2, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_channels, eps=BN_EPS) if norm else nn.Identity()
        self.act = nn.Hardswish() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class Sequence(nn.Module):
    """Modules applied in order, kept under `op_list` as in the upstream checkpoints."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.op_list = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.op_list:
            x = op(x)
        return x


class Residual(nn.Module):
    """`main(x) + x`; without `shortcut`, `main(x)` alone (blocks that change the shape)."""

    def __init__(self, main: nn.Module, shortcut: bool = True) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.main(x)
        return out + x if self.shortcut else out


class DepthwiseSeparableConv(nn.Module):
    """3x3 depthwise (BN, hard-swish), then 1x1 pointwise (BN): the input stem's block."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depth_conv = ConvNormAct(in_channels, in_channels, 3, groups=in_channels, act=True)
        self.point_conv = ConvNormAct(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(x))


class InvertedBottleneck(nn.Module):
    """MBConv: 1x1 expansion and 3x3 depthwise (strided), each with hard-swish, then a 1x1
    projection with BN. `fewer_norm` (the attention stages): biases instead of BN in the first
    two convolutions."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 expand_ratio: float = 4, fewer_norm: bool = False) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.inverted_conv = ConvNormAct(in_channels, mid, bias=fewer_norm, norm=not fewer_norm,
                                         act=True)
        self.depth_conv = ConvNormAct(mid, mid, 3, stride, groups=mid, bias=fewer_norm,
                                      norm=not fewer_norm, act=True)
        self.point_conv = ConvNormAct(mid, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


class MultiScaleLinearAttention(nn.Module):
    """LiteMLA: ReLU linear attention over q, k, v and their depthwise-aggregated copies (one per
    kernel size in `scales`), projected back to `channels` with BN.

    Attention runs in float32 whatever the input's dtype: its sums over all pixels overflow half
    precision at camera resolutions (upstream does the same). Where a head's normaliser is 0 (its
    ReLU queries or keys all 0) the output is 0, as upstream's `/ (normaliser + 1e-15)` gives;
    it is written as a clamp because the ONNX exporter's optimizer drops that addition, leaving
    0 / 0 = NaN that the next attention spreads over the whole map."""

    def __init__(self, channels: int, head_dim: int, scales: tuple[int, ...] = (5,),
                 eps: float = 1e-15) -> None:
        super().__init__()
        heads = channels // head_dim
        qkv_channels = 3 * heads * head_dim
        self.head_dim = head_dim
        self.eps = eps
        self.qkv = ConvNormAct(channels, qkv_channels, norm=False)
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(qkv_channels, qkv_channels, scale, padding=scale // 2,
                          groups=qkv_channels, bias=False),
                nn.Conv2d(qkv_channels, qkv_channels, 1, groups=3 * heads, bias=False))
            for scale in scales)
        self.proj = ConvNormAct(heads * head_dim * (1 + len(scales)), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(x)
        qkv = torch.cat([qkv, *(aggregate(qkv) for aggregate in self.aggreg)], dim=1)
        return self.proj(self.attend(qkv).to(x.dtype))

    def attend(self, qkv: torch.Tensor) -> torch.Tensor:
        """(B, heads * 3 * d, H, W), each head's channels q | k | v -> (B, heads * d, H, W)."""
        batch, _, height, width = qkv.shape
        qkv = qkv.float().reshape(batch, -1, 3 * self.head_dim, height * width)
        q, k, v = qkv.split(self.head_dim, dim=2)
        q, k = F.relu(q), F.relu(k)
        v = F.pad(v, (0, 0, 0, 1), value=1.0)  # a row of ones: its output is the normaliser
        out = torch.matmul(torch.matmul(v, k.transpose(-1, -2)), q)
        out = out[:, :, :-1] / out[:, :, -1:].clamp_min(self.eps)
        return out.reshape(batch, -1, height, width)


class EfficientViTBlock(nn.Module):
    """Global context (multi-scale linear attention), then local mixing (MBConv), both residual."""

    def __init__(self, channels: int, head_dim: int, expand_ratio: float = 4) -> None:
        super().__init__()
        self.context_module = Residual(MultiScaleLinearAttention(channels, head_dim))
        self.local_module = Residual(InvertedBottleneck(channels, channels,
                                                        expand_ratio=expand_ratio,
                                                        fewer_norm=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))


class EfficientViTEncoder(nn.Module):
    """Input stem (stride 2), two MBConv stages, two attention stages; stride 32 in all."""

    def __init__(self, widths: tuple[int, ...] = B0_WIDTHS, depths: tuple[int, ...] = B0_DEPTHS,
                 head_dim: int = B0_HEAD_DIM, expand_ratio: float = 4) -> None:
        super().__init__()
        stem = widths[0]
        self.input_stem = Sequence(
            ConvNormAct(3, stem, 3, stride=2, act=True),
            *(Residual(DepthwiseSeparableConv(stem, stem)) for _ in range(depths[0])))
        stages, channels = [], stem
        for width, depth in zip(widths[1:3], depths[1:3], strict=True):
            blocks = [Residual(InvertedBottleneck(channels if i == 0 else width, width,
                                                  stride=2 if i == 0 else 1,
                                                  expand_ratio=expand_ratio), shortcut=i > 0)
                      for i in range(depth)]
            stages.append(Sequence(*blocks))
            channels = width
        for width, depth in zip(widths[3:], depths[3:], strict=True):
            downsample = InvertedBottleneck(channels, width, stride=2, expand_ratio=expand_ratio,
                                            fewer_norm=True)
            stages.append(Sequence(Residual(downsample, shortcut=False),
                                   *(EfficientViTBlock(width, head_dim, expand_ratio)
                                     for _ in range(depth))))
            channels = width
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The maps of stages 1..4 (strides 4, 8, 16, 32)."""
        x = self.input_stem(x)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps


class SegHead(nn.Module):
    """Stage 4, 3 and 2 maps -> 1x1 conv + BN each to `width` channels, bicubic upsampling to the
    stride-8 map and a sum; one residual MBConv; a 1x1 expansion (the classifier input); the 1x1
    classifier."""

    def __init__(self, in_channels: tuple[int, int, int] = (128, 64, 32), width: int = 32,
                 expand_ratio: float = 4, final_expand: int = 4, num_classes: int = 19) -> None:
        super().__init__()
        # Upstream keeps its factor upsampling inside the first two input ops (hence their
        # op_list); `classifier_input` resizes to the stride-8 map instead.
        self.input_ops = nn.ModuleList([*(Sequence(ConvNormAct(c, width))
                                          for c in in_channels[:-1]),
                                        ConvNormAct(in_channels[-1], width)])
        self.middle = Sequence(Residual(InvertedBottleneck(width, width,
                                                           expand_ratio=expand_ratio)))
        self.output_ops = nn.ModuleList([Sequence(
            ConvNormAct(width, width * final_expand, act=True),
            ConvNormAct(width * final_expand, num_classes, bias=True, norm=False))])

    def classifier_input(self, maps: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(stage 4, stage 3, stage 2) maps -> the classifier input at the stage-2 map's size."""
        size = maps[-1].shape[-2:]
        merged = None
        for op, feature in zip(self.input_ops, maps, strict=True):
            projected = op(feature)
            if projected.shape[-2:] != size:
                projected = F.interpolate(projected, size=size, mode="bicubic",
                                          align_corners=False)
            merged = projected if merged is None else merged + projected
        return self.output_ops[0].op_list[0](self.middle(merged))

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:
        return self.output_ops[0].op_list[1](classifier_input)


class EfficientViTSeg(Backbone):
    """EfficientViT-Seg-B0 for Cityscapes: 19 classes, ImageNet normalisation, run at 1024x2048."""

    name = "efficientvit-b0"

    def __init__(self, class_names: tuple[str, ...] = CITYSCAPES_CLASSES,
                 input_size: tuple[int, int] = (1024, 2048)) -> None:
        super().__init__()
        self.class_names = tuple(class_names)
        self.preprocessing = Preprocessing(tuple(input_size), IMAGENET_MEAN, IMAGENET_STD)
        self.backbone = EfficientViTEncoder()  # upstream's name: the checkpoint's keys need it
        self.head = SegHead(num_classes=len(self.class_names))

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        _, stage2, stage3, stage4 = self.backbone(x)
        features = self.head.classifier_input((stage4, stage3, stage2))
        return BackboneOutput(logits=self.classify(features), features=features,
                              classifier_input=features)

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:
        return self.head.classify(classifier_input)


def build_efficientvit_b0(weights: str | Path | None, **kwargs) -> EfficientViTSeg:
    """EfficientViT-Seg-B0 from the official `cityscapes_b0.pt` (its "state_dict" entry) or any
    state dict with exactly its keys: a missing, unexpected or mis-shaped key raises."""
    model = EfficientViTSeg(**kwargs)
    if weights is not None:
        load_into(model, read_state_dict(weights), weights, allow_unexpected=False)
    return freeze(model)
