"""Backbones by name: `create_backbone("erfnet", weights)`; new models register a builder here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from .base import Backbone
from .deeplabv3plus import build_deeplabv3plus
from .efficientvit import build_efficientvit_b0
from .erfnet import build_erfnet, build_erfnet_tiny
from .segformer import SEGFORMER_VARIANTS, build_segformer

BackboneBuilder = Callable[..., Backbone]

BACKBONES: dict[str, BackboneBuilder] = {
    "erfnet": build_erfnet,
    "erfnet-tiny": build_erfnet_tiny,
    "deeplabv3plus-r101": build_deeplabv3plus,
    "efficientvit-b0": build_efficientvit_b0,
    **{f"segformer-{variant}": (lambda weights, _v=variant, **kw:
                                build_segformer(weights, variant=_v, **kw))
       for variant in SEGFORMER_VARIANTS},
}


def create_backbone(name: str, weights: str | Path | None, **options) -> Backbone:
    """Build a frozen backbone; `weights=None` leaves random weights (timing only)."""
    try:
        builder = BACKBONES[name]
    except KeyError:
        choices = ", ".join(BACKBONES)
        raise ConfigError(f"unknown backbone {name!r}; choose from {choices}") from None
    return builder(weights, **options)
