"""Pasting cut-outs into a training crop as a forward car camera would see them.

Outliers (unknown objects) lie on the drivable area or beside it (sidewalk, terrain), at a
distance drawn by `PasteGeometry` and sized by it; controls (in-distribution objects cut from
other training frames) keep the size and bottom row they had in their own frame, which the same
camera rig makes plausible in this one. Every paste is blended so that its edge cannot be the
cue: an alpha eroded by a pixel and feathered, a slight blur, and its colour moved halfway to
the background it covers (mean and contrast per channel).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..cityscapes_classes import IGNORE_INDEX
from ..errors import ConfigError
from .cutouts import (
    OUTLIER_LABEL,
    Cutout,
    attribution_rows,
    control_cutouts,
    load_proxy,
    proxy_digest,
)
from .datasets import LabelledFolder
from .synthetic import ROAD
from .synthetic_sets import PasteGeometry, write_image

OFF_ROAD = (1, 9)  # sidewalk, terrain: where an object beside the drivable area lies
NEAREST_ROWS = 2  # candidate pixels within this many rows of the geometry's ground row


@dataclass(frozen=True)
class PasteConfig:
    """Cut-outs pasted into sampler crops; every field is part of the training cache key."""

    cutouts: str  # outlier proxy folder (instances.csv + instances/*.png)
    classes: str = "a"  # class part of the proxy pasted: a, b or all (cutouts.class_split)
    digest: str = ""  # of the part's cut-outs, so changed files never reuse a cache
    max_outliers: int = 3  # outliers per crop: uniform in 0..max (crops without any too)
    road_share: float = 0.7  # share of outliers on the road; the rest on sidewalk / terrain
    max_controls: int = 0  # in-distribution pastes per crop, uniform in 0..max (0: no control)
    geometry: PasteGeometry = field(default_factory=PasteGeometry)

    def __post_init__(self) -> None:
        if self.max_outliers < 0 or self.max_controls < 0:
            raise ConfigError("pastes per crop must be >= 0")
        if not 0 <= self.road_share <= 1:
            raise ConfigError(f"road_share must be in [0, 1], got {self.road_share}")

    @classmethod
    def from_folder(cls, cutouts: str, classes: str = "a", **settings: object) -> PasteConfig:
        return cls(cutouts, classes, proxy_digest(cutouts, classes), **settings)

    def to_dict(self) -> dict:
        return asdict(self)


def horizon_row(label: np.ndarray) -> int:
    """The topmost road row of a frame: where a flat road meets the horizon (0.4 of the height
    when no road is labelled)."""
    rows = np.flatnonzero((label == ROAD).any(axis=1))
    return int(rows[0]) if rows.size else int(0.4 * label.shape[0])


def match_colour(patch: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Move the patch's per-channel mean halfway to the background's, and its contrast halfway
    (geometrically) to the background's."""
    patch = patch.astype(np.float32)
    patch_mean, patch_std = patch.mean((0, 1)), patch.std((0, 1)) + 1.0
    back = background.reshape(-1, 3).astype(np.float32)
    back_mean, back_std = back.mean(0), back.std(0) + 1.0
    gain = np.sqrt(back_std / patch_std).clip(0.5, 2.0)
    return (patch - patch_mean) * gain + (patch_mean + back_mean) / 2


def blend(image: np.ndarray, label: np.ndarray, cutout: Cutout, width_px: float, bottom: int,
          centre: int, rng: np.random.Generator) -> int:
    """Paste `cutout` `width_px` wide with its bottom centre at (bottom, centre), in place.
    Pixels whose alpha reaches 0.5 take the cut-out's label. Returns how many did."""
    source_h, source_w = cutout.alpha.shape
    scale = width_px / source_w
    size = (max(2, round(source_w * scale)), max(2, round(source_h * scale)))
    size = (min(size[0], 4 * image.shape[1]), min(size[1], 4 * image.shape[0]))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    patch = cv2.resize(cutout.image, size, interpolation=shrink)
    alpha = cv2.resize(cutout.alpha, size, interpolation=cv2.INTER_LINEAR)
    if min(size) >= 8:
        alpha = cv2.erode(alpha, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.5, 1.2))
    patch = cv2.GaussianBlur(patch, (0, 0), rng.uniform(0.3, 0.9))
    top, left = bottom - size[1] + 1, centre - size[0] // 2
    rows = slice(max(top, 0), min(top + size[1], image.shape[0]))
    cols = slice(max(left, 0), min(left + size[0], image.shape[1]))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return 0
    inside = np.s_[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
    patch, alpha = patch[inside], alpha[inside][..., None]
    region = image[rows, cols].astype(np.float32)
    patch = match_colour(patch, region)
    image[rows, cols] = np.clip(alpha * patch + (1 - alpha) * region, 0, 255).astype(np.uint8)
    covered = alpha[..., 0] >= 0.5
    label[rows, cols][covered] = cutout.label
    return int(covered.sum())


class ObjectPaster:
    """Pastes outliers (and controls) into one crop of a resized frame, in place."""

    def __init__(self, config: PasteConfig, dataset: LabelledFolder | None = None) -> None:
        self.config = config
        self.outliers = load_proxy(config.cutouts, config.classes)
        self.controls: list[Cutout] = []
        if config.max_controls:
            if dataset is None:
                raise ConfigError("paste controls are cut from the training frames: "
                                  "give the dataset")
            self.controls = control_cutouts(dataset)

    def __call__(self, image: np.ndarray, label: np.ndarray, frame_size: tuple[int, int],
                 offset: tuple[int, int], horizon: int, rng: np.random.Generator) -> None:
        """`image`, `label`: the crop (written in place); `frame_size` (height, width) of the
        resized frame it was cut from at `offset` (top, left); `horizon`: that frame's
        horizon row. Controls first, so an outlier may stand in front of a pasted car."""
        config = self.config
        for _ in range(int(rng.integers(0, config.max_controls + 1)) if self.controls else 0):
            self.paste_control(image, label, frame_size, offset, rng)
        for _ in range(int(rng.integers(0, config.max_outliers + 1))):
            self.paste_outlier(image, label, frame_size[1], offset[0], horizon, rng)

    def paste_outlier(self, image: np.ndarray, label: np.ndarray, frame_width: int, top: int,
                      horizon: int, rng: np.random.Generator) -> Cutout | None:
        """One outlier on the road or beside it; returns it (None where the crop has no such
        surface)."""
        geometry = self.config.geometry
        on_road = rng.random() < self.config.road_share
        surface = label == ROAD if on_road else np.isin(label, OFF_ROAD)
        rows, cols = np.nonzero(surface)
        if rows.size == 0:
            return None
        focal = geometry.focal(frame_width)
        distance = float(np.exp(rng.uniform(*np.log(geometry.distances))))
        ground = horizon + focal * geometry.camera_height / distance - top
        gap = np.abs(rows - ground)
        candidates = np.flatnonzero(gap <= gap.min() + NEAREST_ROWS)
        pick = int(rng.choice(candidates))
        below_horizon = rows[pick] + top - horizon
        if below_horizon > 0:  # the distance of the row actually chosen sizes the object
            distance = float(np.clip(focal * geometry.camera_height / below_horizon,
                                     *geometry.distances))
        width_px = focal * rng.uniform(*geometry.widths) / distance
        cutout = self.outliers[int(rng.integers(len(self.outliers)))]
        blend(image, label, cutout, width_px, int(rows[pick]), int(cols[pick]), rng)
        return cutout

    def paste_control(self, image: np.ndarray, label: np.ndarray, frame_size: tuple[int, int],
                      offset: tuple[int, int], rng: np.random.Generator) -> None:
        for _ in range(5):  # a control whose bottom row falls inside the crop
            cutout = self.controls[int(rng.integers(len(self.controls)))]
            bottom = round(cutout.bottom_row * frame_size[0]) - 1 - offset[0]
            if 0 <= bottom < image.shape[0]:
                blend(image, label, cutout, cutout.width_share * frame_size[1], bottom,
                      int(rng.integers(image.shape[1])), rng)
                return


def write_cutout_anomalies(dataset: LabelledFolder, root: str | Path, cutouts: str, classes: str,
                           seed: int, geometry: PasteGeometry | None = None) -> Path:
    """An anomaly folder of `dataset`'s frames with 1-3 proxy cut-outs of class part `classes`
    pasted as in training (masks 1 on them, 255 where the frame is void), and ATTRIBUTION.csv:
    the licence and Flickr URL of every cut-out used, as CC BY / CC BY-SA require."""
    root = Path(root)
    config = PasteConfig(cutouts, classes, geometry=geometry or PasteGeometry())
    paster, rng, used = ObjectPaster(config), np.random.default_rng(seed), set()
    for sample in tqdm(dataset, desc="pasting cut-outs", unit="img"):
        image, label = sample.image.copy(), sample.label.copy()
        horizon = horizon_row(label)
        for _ in range(int(rng.integers(1, 4))):
            cutout = paster.paste_outlier(image, label, label.shape[1], 0, horizon, rng)
            used.update([cutout.source] if cutout else [])
        mask = np.where(label == OUTLIER_LABEL, 1, np.where(label == IGNORE_INDEX, IGNORE_INDEX, 0))
        write_image(root / "images" / f"{sample.name}.png", image)
        write_image(root / "labels_masks" / f"{sample.name}.png", mask.astype(np.uint8))
    rows = attribution_rows(cutouts, used)
    with (root / "ATTRIBUTION.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root
