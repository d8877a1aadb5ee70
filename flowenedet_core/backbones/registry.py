"""Backbones by name: `create_backbone("erfnet", weights)`.

A name is either registered here (`BACKBONES`) or `module:callable`: a callable importable from
the user's own module (on PYTHONPATH), so a new model needs no change to this package. Either way
the builder is called as `builder(weights, **options)` with `weights` a path or None (random
weights, timing only) and `options` such as `input_size=(height, width)`, and returns a frozen
`Backbone` (backbones/base.py: `name`, `class_names`, `preprocessing`, `forward` ->
`BackboneOutput`, `classify`)."""

from __future__ import annotations

import importlib
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


def backbone_builder(name: str) -> BackboneBuilder:
    """The builder registered as `name`, or the callable `module:callable` names (imported)."""
    if name in BACKBONES:
        return BACKBONES[name]
    module_name, separator, attribute = name.partition(":")
    if not (separator and module_name and attribute):
        raise ConfigError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}, or "
                          "give module:callable for a model of your own")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"backbone {name!r}: cannot import {module_name} ({error}); put its "
                          "folder on PYTHONPATH") from None
    builder = getattr(module, attribute, None)
    if not callable(builder):
        raise ConfigError(f"backbone {name!r}: {module_name} has no callable {attribute!r}")
    return builder


def create_backbone(name: str, weights: str | Path | None, **options) -> Backbone:
    """Build a frozen backbone; `weights=None` leaves random weights (timing only)."""
    model = backbone_builder(name)(weights, **options)
    if not isinstance(model, Backbone):
        raise ConfigError(f"backbone {name!r} built a {type(model).__name__}, not a "
                          "flowenedet_core.backbones.Backbone")
    return model
