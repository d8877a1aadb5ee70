"""Cityscapes-C: a Cityscapes folder seen through one `imagecorruptions` corruption."""

from __future__ import annotations

import zlib

import numpy as np

from ..errors import DataError
from .datasets import LabelledFolder, Sample


def corruption_names() -> tuple[str, ...]:
    from imagecorruptions import get_corruption_names

    return tuple(get_corruption_names("all"))


class CorruptedFolder(LabelledFolder):
    """Wraps a labelled folder; images corrupted deterministically (seeded by the image name)."""

    def __init__(self, base: LabelledFolder, corruption: str, severity: int, name: str) -> None:
        try:
            names = corruption_names()
        except ImportError as error:
            raise DataError("corruptions need `pip install imagecorruptions-imaug`") from error
        if corruption not in names:
            raise DataError(f"unknown corruption {corruption!r}; choose from {', '.join(names)}")
        if not 1 <= severity <= 5:
            raise DataError(f"corruption severity must be 1-5, got {severity}")
        super().__init__(name, base.pairs)
        self.base = base
        self.kind = base.kind
        self.corruption = corruption
        self.severity = severity

    def __getitem__(self, index: int) -> Sample:
        from imagecorruptions import corrupt

        sample = self.base[index]
        state = np.random.get_state()
        np.random.seed(zlib.crc32(sample.name.encode()))
        try:
            image = corrupt(sample.image, corruption_name=self.corruption,
                            severity=self.severity)
        finally:
            np.random.set_state(state)
        return Sample(sample.name, np.asarray(image, dtype=np.uint8), sample.label)
