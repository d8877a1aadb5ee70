"""DeepLabV3+ with a ResNet-101 V1c backbone in plain torch, named like MMSegmentation checkpoints.

Parameter names follow mmseg's `ResNetV1c` (deep stem, `backbone.stem.*`, `backbone.layerN.*`)
and `DepthwiseSeparableASPPHead` (`decode_head.image_pool.1.conv`, `decode_head.aspp_modules.*`,
`decode_head.bottleneck`, `decode_head.c1_bottleneck`, `decode_head.sep_bottleneck.*`,
`decode_head.conv_seg`), so a user's mmseg `.pth` loads; the FCN auxiliary head is ignored.
Output stride 8 (layer3/4 dilated 2/4, mmseg's contract_dilation), ASPP dilations 12/24/36.
Features: the 512-channel map entering `conv_seg`, at 1/4 resolution.
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


class ConvModule(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU, keys `conv.*` and `bn.*` as in mmcv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 dilation: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                              padding=dilation * (kernel_size // 2), dilation=dilation,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class DepthwiseSeparableConvModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, 3, dilation, in_channels)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int, dilation: int,
                 downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def res_layer(in_channels: int, planes: int, blocks: int, stride: int,
              dilation: int) -> nn.Sequential:
    out_channels = planes * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                                             bias=False), nn.BatchNorm2d(out_channels))
    first_dilation = dilation // 2 if dilation > 1 else dilation
    layers = [Bottleneck(in_channels, planes, stride, first_dilation, downsample)]
    layers += [Bottleneck(out_channels, planes, 1, dilation, None) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNetV1c(nn.Module):
    def __init__(self, depths: tuple[int, ...] = (3, 4, 23, 3),
                 strides: tuple[int, ...] = (1, 2, 1, 1),
                 dilations: tuple[int, ...] = (1, 1, 2, 4)) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        for index, (blocks, stride, dilation) in enumerate(zip(depths, strides, dilations,
                                                               strict=True)):
            planes = 64 * 2 ** index
            self.add_module(f"layer{index + 1}",
                            res_layer(in_channels, planes, blocks, stride, dilation))
            in_channels = planes * Bottleneck.expansion

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (layer1 output at 1/4, layer4 output at 1/8)."""
        x = self.maxpool(self.stem(x))
        low = self.layer1(x)
        return low, self.layer4(self.layer3(self.layer2(low)))


class DepthwiseSeparableASPPHead(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 2048, channels: int = 512,
                 c1_in_channels: int = 256, c1_channels: int = 48,
                 dilations: tuple[int, ...] = (1, 12, 24, 36), dropout: float = 0.1) -> None:
        super().__init__()
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                        ConvModule(in_channels, channels, 1))
        self.aspp_modules = nn.ModuleList(
            ConvModule(in_channels, channels, 1) if d == 1
            else DepthwiseSeparableConvModule(in_channels, channels, d) for d in dilations)
        self.bottleneck = ConvModule((len(dilations) + 1) * channels, channels, 3)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1)
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(channels + c1_channels, channels),
            DepthwiseSeparableConvModule(channels, channels))
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def features(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        size = high.shape[-2:]
        pooled = F.interpolate(self.image_pool(high), size=size, mode="bilinear",
                               align_corners=False)
        out = self.bottleneck(torch.cat([pooled, *(m(high) for m in self.aspp_modules)], 1))
        out = F.interpolate(out, size=low.shape[-2:], mode="bilinear", align_corners=False)
        return self.sep_bottleneck(torch.cat([out, self.c1_bottleneck(low)], 1))


class DeepLabV3Plus(Backbone):
    name = "deeplabv3plus-r101"

    def __init__(self, class_names: tuple[str, ...] = CITYSCAPES_CLASSES,
                 input_size: tuple[int, int] = (1024, 2048)) -> None:
        super().__init__()
        self.class_names = tuple(class_names)
        self.preprocessing = Preprocessing(input_size, IMAGENET_MEAN, IMAGENET_STD)
        self.backbone = ResNetV1c()
        self.decode_head = DepthwiseSeparableASPPHead(len(class_names))

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        features = self.decode_head.features(*self.backbone(x))
        return BackboneOutput(logits=self.classify(features), features=features,
                              classifier_input=features)

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:
        return self.decode_head.conv_seg(self.decode_head.dropout(classifier_input))


def build_deeplabv3plus(weights: str | Path | None, **kwargs) -> DeepLabV3Plus:
    """DeepLabV3+ R101; `weights` an mmseg checkpoint (its `state_dict` entry is used)."""
    model = DeepLabV3Plus(**kwargs)
    if weights is not None:
        load_into(model, read_state_dict(weights), weights, ignore_prefixes=("auxiliary_head.",))
    return freeze(model)
