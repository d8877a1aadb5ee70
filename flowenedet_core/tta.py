"""Multi-scale test-time augmentation (TTA): which scales, and the input size each one runs at.

The reference averages the uncertainty over the scales (1, 0.5, 0.25) of the input; labels come
from scale 1. `flowenedet eval --tta` and the exported graph (`InferenceGraph(tta_scales=...)`)
share these rules.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import TypeVar

from .errors import ConfigError

SINGLE_SCALE = (1.0,)
DEFAULT_TTA_SCALES = (1.0, 0.5, 0.25)  # the reference's
MAX_TTA_SCALE = 2.0
# Every backbone accepts multiples of 32 (ERFNet needs 8, SegFormer and EfficientViT 32).
SIZE_MULTIPLE = 32

Map = TypeVar("Map")


def check_tta_scales(scales: Iterable[float]) -> tuple[float, ...]:
    """The scales, each once, in (0, 2] and 1.0 among them (labels come from it), as
    (1.0, the others largest first); ConfigError otherwise."""
    values = [float(scale) for scale in scales]
    if (not all(0 < scale <= MAX_TTA_SCALE for scale in values) or 1.0 not in values
            or len(set(values)) != len(values)):
        raise ConfigError(f"test-time scales {values} must be distinct, each in "
                          f"(0, {MAX_TTA_SCALE:g}], with 1.0 among them (labels come from "
                          "scale 1.0), e.g. 1,0.5,0.25")
    return (1.0, *sorted((scale for scale in values if scale != 1.0), reverse=True))


def parse_tta_scales(text: str) -> tuple[float, ...]:
    """argparse type of `--tta`: '1,0.5,0.25' -> (1.0, 0.5, 0.25)."""
    try:
        return check_tta_scales(float(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of numbers, "
                                         "e.g. 1,0.5,0.25") from None
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def scaled_size(size: Sequence[int], scale: float) -> tuple[int, int]:
    """(height, width) at `scale`, rounded to a multiple of 32 (at least 32); scale 1 keeps
    `size` as it is, so single-scale runs are unchanged."""
    if scale == 1.0:
        return (int(size[0]), int(size[1]))
    height, width = (max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)
                     for side in size)
    return height, width


def average(maps: Sequence[Map]) -> Map:
    """The mean of same-shaped maps (tensors or arrays); one map is returned as it is, so a
    single scale stays bit-identical and adds no operation to an exported graph."""
    total = maps[0]
    for other in maps[1:]:
        total = total + other
    return total if len(maps) == 1 else total / len(maps)
