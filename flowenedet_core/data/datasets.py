"""Labelled image folders: anomaly bundles and Cityscapes-format trees.

- Anomaly (Fishyscapes / SegmentMeIfYouCan / RoadAnomaly bundles): `images/N.ext` pairs with
  `labels_masks/N.png`; 0 = in-distribution, 1 = anomaly (2 is read as anomaly too, as in
  RoadAnomaly), 255 = void.
- Cityscapes: `leftImg8bit/SPLIT/CITY/*_leftImg8bit.png` with
  `gtFine/SPLIT/CITY/*_gtFine_labelTrainIds.png` (or `*_labelIds.png`, mapped to train ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cityscapes_classes import IGNORE_INDEX
from ..errors import DataError
from .transforms import read_label, read_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

# Official Cityscapes label id -> train id (labels.py of cityscapesScripts); others are void.
CITYSCAPES_ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
                             23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


@dataclass
class Sample:
    name: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: np.ndarray  # (H, W) uint8: anomaly mask (0/1/255) or train ids (0..18, 255)


class LabelledFolder:
    """A list of (image path, label path) pairs read lazily; `kind` says what the labels mean."""

    kind: str

    def __init__(self, name: str, pairs: list[tuple[Path, Path]]) -> None:
        if not pairs:
            raise DataError(f"dataset {name!r} has no image/label pairs")
        self.name = name
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self[index]

    def __getitem__(self, index: int) -> Sample:
        image_path, label_path = self.pairs[index]
        image = read_rgb(image_path)
        label = self.convert_label(read_label(label_path), label_path)
        if label.shape != image.shape[:2]:
            raise DataError(f"{label_path}: label {label.shape} does not match image "
                            f"{image.shape[:2]} of {image_path}")
        return Sample(image_path.stem, image, label)

    def convert_label(self, label: np.ndarray, path: Path) -> np.ndarray:
        return label


class AnomalyFolder(LabelledFolder):
    kind = "anomaly"

    def __init__(self, name: str, root: str | Path) -> None:
        root = Path(root)
        images, labels = root / "images", root / "labels_masks"
        if not images.is_dir() or not labels.is_dir():
            raise DataError(f"{root} is not an anomaly folder: need images/ and labels_masks/")
        pairs = []
        for image in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            label = labels / f"{image.stem}.png"
            if not label.is_file():
                raise DataError(f"no label {label} for image {image}")
            pairs.append((image, label))
        super().__init__(name, pairs)

    def convert_label(self, label: np.ndarray, path: Path) -> np.ndarray:
        unexpected = np.setdiff1d(np.unique(label), [0, 1, 2, IGNORE_INDEX])
        if unexpected.size:
            raise DataError(f"{path} holds label values {unexpected.tolist()}; "
                            "expected 0 (in-distribution), 1 or 2 (anomaly), 255 (void)")
        return np.where(label == 2, 1, label).astype(np.uint8)


class CityscapesFolder(LabelledFolder):
    kind = "cityscapes"

    def __init__(self, name: str, root: str | Path, split: str) -> None:
        root = Path(root)
        images = root / "leftImg8bit" / split
        if not images.is_dir():
            raise DataError(f"{root} is not a Cityscapes tree: {images} does not exist")
        pairs = []
        for image in sorted(images.glob("*/*_leftImg8bit.png")):
            stem = image.name[: -len("_leftImg8bit.png")]
            folder = root / "gtFine" / split / image.parent.name
            train_ids = folder / f"{stem}_gtFine_labelTrainIds.png"
            label = train_ids if train_ids.is_file() else folder / f"{stem}_gtFine_labelIds.png"
            if not label.is_file():
                raise DataError(f"no gtFine label for {image} (looked for {train_ids})")
            pairs.append((image, label))
        super().__init__(name, pairs)

    def convert_label(self, label: np.ndarray, path: Path) -> np.ndarray:
        if path.name.endswith("_labelTrainIds.png"):
            return label
        lookup = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
            lookup[label_id] = train_id
        return lookup[label]
