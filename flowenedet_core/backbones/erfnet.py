"""ERFNet (Romera et al., T-ITS 2018) with the original module names, so its checkpoints load.

Outputs 20 channels: Cityscapes train ids 0..18 and a void channel (19) that was trained with
weight 0; `class_names` lists the 19 real classes and scores drop the void channel by default.
Features for FED-C: by default the classifier's input, as METHOD.md defines them (the 16-channel
map at 1/2 resolution that `output_conv` turns into logits); `feature_layer="decoder64"` gives
the 64-channel decoder activations at 1/4 instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..cityscapes_classes import CITYSCAPES_CLASSES
from ..errors import ConfigError
from .base import Backbone, BackboneOutput, Preprocessing, freeze, resample
from .weights import load_into, read_state_dict

BN_EPS = 1e-3
FEATURE_LAYERS = ("classifier_input", "decoder64")


class DownsamplerBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(torch.cat([self.conv(x), self.pool(x)], 1)))


class NonBottleneck1d(nn.Module):
    """Factorised residual block: (3x1, 1x3) twice, the second pair dilated."""

    def __init__(self, channels: int, dropout: float, dilation: int) -> None:
        super().__init__()
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), padding=(0, 1))
        self.bn1 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), padding=(dilation, 0),
                                   dilation=(dilation, 1))
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), padding=(0, dilation),
                                   dilation=(1, dilation))
        self.bn2 = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv3x1_1(x))
        out = F.relu(self.bn1(self.conv1x3_1(out)))
        out = F.relu(self.conv3x1_2(out))
        out = self.dropout(self.bn2(self.conv1x3_2(out)))
        return F.relu(out + x)


class UpsamplerBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1,
                                       output_padding=1)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


@dataclass(frozen=True)
class ERFNetShape:
    """Channel widths at 1/2, 1/4, 1/8 and block counts; the default is the published ERFNet."""

    widths: tuple[int, int, int] = (16, 64, 128)
    quarter_blocks: int = 5  # non_bottleneck_1d at 1/4 in the encoder
    eighth_rounds: int = 2  # rounds of 4 dilated blocks (2, 4, 8, 16) at 1/8
    decoder_blocks: int = 2  # per decoder stage


class Encoder(nn.Module):
    def __init__(self, num_outputs: int, shape: ERFNetShape = ERFNetShape()) -> None:
        super().__init__()
        half, quarter, eighth = shape.widths
        self.initial_block = DownsamplerBlock(3, half)
        layers: list[nn.Module] = [DownsamplerBlock(half, quarter)]
        layers += [NonBottleneck1d(quarter, 0.03, 1) for _ in range(shape.quarter_blocks)]
        layers.append(DownsamplerBlock(quarter, eighth))
        for _ in range(shape.eighth_rounds):
            layers += [NonBottleneck1d(eighth, 0.3, d) for d in (2, 4, 8, 16)]
        self.layers = nn.ModuleList(layers)
        # Only used when the encoder is trained alone; kept so original checkpoints load.
        self.output_conv = nn.Conv2d(eighth, num_outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.initial_block(x)
        for layer in self.layers:
            x = layer(x)
        return x


class Decoder(nn.Module):
    def __init__(self, num_outputs: int, shape: ERFNetShape = ERFNetShape()) -> None:
        super().__init__()
        half, quarter, eighth = shape.widths
        blocks = shape.decoder_blocks
        self.layers = nn.ModuleList([
            UpsamplerBlock(eighth, quarter),
            *(NonBottleneck1d(quarter, 0, 1) for _ in range(blocks)),
            UpsamplerBlock(quarter, half),
            *(NonBottleneck1d(half, 0, 1) for _ in range(blocks)),
        ])
        self.quarter_layers = 1 + blocks
        self.output_conv = nn.ConvTranspose2d(half, num_outputs, 2, stride=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (the map at 1/4, the classifier input at 1/2)."""
        for layer in self.layers[:self.quarter_layers]:
            x = layer(x)
        quarter = x
        for layer in self.layers[self.quarter_layers:]:
            x = layer(x)
        return quarter, x


class ERFNet(Backbone):
    """ERFNet for Cityscapes: 19 classes + void channel, RGB in [0, 1], run at 512x1024."""

    name = "erfnet"

    def __init__(self, num_outputs: int = 20,
                 class_names: tuple[str, ...] = CITYSCAPES_CLASSES,
                 input_size: tuple[int, int] = (512, 1024),
                 feature_layer: str = "classifier_input",
                 shape: ERFNetShape = ERFNetShape()) -> None:
        super().__init__()
        if feature_layer not in FEATURE_LAYERS:
            raise ConfigError(f"ERFNet feature_layer {feature_layer!r} is not one of "
                              f"{', '.join(FEATURE_LAYERS)}")
        self.feature_layer = feature_layer
        self.class_names = tuple(class_names)
        self.preprocessing = Preprocessing(input_size=input_size)
        self.encoder = Encoder(num_outputs, shape)
        self.decoder = Decoder(num_outputs, shape)

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        quarter, half = self.decoder(self.encoder(x))
        features = half if self.feature_layer == "classifier_input" else quarter
        return BackboneOutput(logits=self.classify(half), features=features,
                              classifier_input=half)

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:
        return self.decoder.output_conv(classifier_input)

    def logits_on_grid(self, output: BackboneOutput, grid: tuple[int, int]) -> torch.Tensor:
        """The classifier is a linear 2x2, stride-2 transposed convolution, so averaging its
        output over 2k x 2k blocks equals applying its kernel-mean as a 1x1 convolution to the
        k x k averaged classifier input: the same numbers (up to rounding) from 5x less memory
        traffic than pooling the full-resolution logits."""
        height, width = output.classifier_input.shape[-2:]
        if height % grid[0] or width % grid[1]:
            return super().logits_on_grid(output, grid)
        pooled = resample(output.classifier_input, grid)
        conv = self.decoder.output_conv
        weight = conv.weight.mean(dim=(2, 3)).t()[:, :, None, None]  # (out, in, 1, 1)
        return F.conv2d(pooled, weight, conv.bias)


# The embedded demo model: ERFNet's design at a tenth of its width and depth, 19 classes, 256x512.
TINY_SHAPE = ERFNetShape(widths=(16, 32, 64), quarter_blocks=2, eighth_rounds=1,
                         decoder_blocks=1)


def build_erfnet_tiny(weights: str | Path | None, **kwargs) -> ERFNet:
    """The small ERFNet of the embedded demo model (trained on synthetic streets)."""
    kwargs = {"num_outputs": 19, "input_size": (256, 512), "shape": TINY_SHAPE, **kwargs}
    return build_erfnet(weights, **kwargs)


def build_erfnet(weights: str | Path | None, **kwargs) -> ERFNet:
    """ERFNet with weights from `weights` (a state dict; `module.` prefixes accepted)."""
    model = ERFNet(**kwargs)
    if weights is not None:
        load_into(model, read_state_dict(weights), weights)
    return freeze(model)
