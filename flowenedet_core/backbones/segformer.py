"""SegFormer B0-B5 through transformers' SegformerForSemanticSegmentation; weights are local only.

Features (FED-C condition and MC-dropout classifier input): the decode head's fused map that
enters its 1x1 classifier (256 channels for B0/B1, 768 for B2-B5), at 1/4 resolution.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..cityscapes_classes import CITYSCAPES_CLASSES
from ..errors import WeightsError
from .base import Backbone, BackboneOutput, Preprocessing, freeze
from .weights import load_into, read_state_dict

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

# (hidden sizes, depths, decoder hidden size) of the published MiT-B0..B5 encoders.
SEGFORMER_VARIANTS: dict[str, tuple[list[int], list[int], int]] = {
    "b0": ([32, 64, 160, 256], [2, 2, 2, 2], 256),
    "b1": ([64, 128, 320, 512], [2, 2, 2, 2], 256),
    "b2": ([64, 128, 320, 512], [3, 4, 6, 3], 768),
    "b3": ([64, 128, 320, 512], [3, 4, 18, 3], 768),
    "b4": ([64, 128, 320, 512], [3, 8, 27, 3], 768),
    "b5": ([64, 128, 320, 512], [3, 6, 40, 3], 768),
}


def segformer_config(variant: str, num_labels: int):
    from transformers import SegformerConfig

    hidden_sizes, depths, decoder = SEGFORMER_VARIANTS[variant]
    return SegformerConfig(num_labels=num_labels, hidden_sizes=hidden_sizes, depths=depths,
                           decoder_hidden_size=decoder, num_attention_heads=[1, 2, 5, 8],
                           sr_ratios=[8, 4, 2, 1])


class SegFormer(Backbone):
    def __init__(self, model: torch.nn.Module, variant: str,
                 class_names: tuple[str, ...], input_size: tuple[int, int]) -> None:
        super().__init__()
        self.name = f"segformer-{variant}"
        self.class_names = tuple(class_names)
        self.preprocessing = Preprocessing(input_size, IMAGENET_MEAN, IMAGENET_STD)
        self.model = model
        self._captured: list[torch.Tensor] = []
        model.decode_head.classifier.register_forward_pre_hook(
            lambda _module, args: self._captured.append(args[0]))

    def forward(self, x: torch.Tensor) -> BackboneOutput:
        self._captured.clear()
        logits = self.model(pixel_values=x).logits
        features = self._captured.pop()
        return BackboneOutput(logits=logits, features=features, classifier_input=features)

    def classify(self, classifier_input: torch.Tensor) -> torch.Tensor:
        return self.model.decode_head.classifier(classifier_input)


def build_segformer(weights: str | Path | None, variant: str = "b2",
                    class_names: tuple[str, ...] = CITYSCAPES_CLASSES,
                    input_size: tuple[int, int] = (1024, 2048)) -> SegFormer:
    """`weights`: a HF model directory (config.json + weights), a state-dict file, or None."""
    try:
        from transformers import SegformerForSemanticSegmentation
    except ImportError as error:
        raise WeightsError("SegFormer needs `pip install transformers`") from error
    if weights is not None and Path(weights).is_dir():
        try:
            model = SegformerForSemanticSegmentation.from_pretrained(
                str(weights), local_files_only=True)
        except (OSError, ValueError) as error:
            raise WeightsError(f"cannot load SegFormer from {weights}: {error}") from error
        labels = model.config.id2label
        if len(labels) != len(class_names):
            class_names = tuple(labels[i] for i in range(len(labels)))
    else:
        model = SegformerForSemanticSegmentation(segformer_config(variant, len(class_names)))
        if weights is not None:
            load_into(model, read_state_dict(weights), weights)
    return freeze(SegFormer(model, variant, class_names, input_size))
