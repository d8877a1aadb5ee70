"""Object cut-outs to paste into training crops: real out-of-distribution objects from an outlier
proxy folder (COCO instances, as Meta-OoD uses), and in-distribution controls cut from the
labelled training frames themselves (cars, persons, poles ...).

The proxy is split by class, never by instance, so that a detector is selected on object
classes it never saw while training (selection on the training classes overstates the gain).
The split is fixed by the proxy's own listing: classes sorted by instance count (most first,
then by name) and dealt alternately to part `a` and part `b`.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..cityscapes_classes import CITYSCAPES_CLASSES
from ..errors import DataError
from .datasets import LabelledFolder

OUTLIER_LABEL = 254  # label value of pasted out-of-distribution pixels inside the sampler
PROXY_LISTING = "instances.csv"  # file, category, touches_image_border, licence, flickr_url ...
CLASS_PARTS = ("a", "b", "all")
CONTROL_CLASSES = ("pole", "person", "rider", "car", "bicycle")  # in-distribution pastes
MIN_CONTROL_PIXELS = 400  # smaller components are mostly fragments behind other objects


@dataclass(frozen=True)
class Cutout:
    """An object cropped to its box: RGB, alpha in [0, 1], what it is and where it came from."""

    image: np.ndarray  # (h, w, 3) uint8 RGB
    alpha: np.ndarray  # (h, w) float32, 1 on the object
    label: int  # what its pixels are labelled: OUTLIER_LABEL or a train id
    category: str  # COCO class, or Cityscapes class of a control
    source: str  # proxy file name, or the training frame it was cut from
    bottom_row: float = 0.0  # controls: bottom row as a share of the frame's height
    width_share: float = 0.0  # controls: width as a share of the frame's width


def proxy_listing(root: str | Path) -> list[dict[str, str]]:
    path = Path(root) / PROXY_LISTING
    if not path.is_file():
        raise DataError(f"outlier proxy {root}: no {PROXY_LISTING} (one row per cut-out: file, "
                        "category, touches_image_border, image_license, flickr_url)")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def class_split(rows: list[dict[str, str]]) -> dict[str, str]:
    """Category -> 'a' or 'b': sorted by instance count (descending) then name, dealt
    alternately, so both parts hold about as many instances and no class is in both."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
    order = sorted(counts, key=lambda name: (-counts[name], name))
    return {name: "ab"[index % 2] for index, name in enumerate(order)}


def proxy_rows(root: str | Path, part: str) -> list[dict[str, str]]:
    """The listing rows of one class part, whole objects only (cut-outs touching their source
    image's border are truncated: their straight cut edge would be a paste cue)."""
    if part not in CLASS_PARTS:
        raise DataError(f"cut-out class part must be one of {CLASS_PARTS}, got {part!r}")
    rows = proxy_listing(root)
    split = class_split(rows)
    return [row for row in rows if row.get("touches_image_border", "0") != "1"
            and (part == "all" or split[row["category"]] == part)]


def proxy_digest(root: str | Path, part: str) -> str:
    """Identifies the cut-outs of `part` (names and bytes), for the training cache key."""
    digest = hashlib.sha256()
    for row in proxy_rows(root, part):
        digest.update(row["file"].encode())
        digest.update(hashlib.sha256((Path(root) / "instances" / row["file"]).read_bytes())
                      .digest())
    return digest.hexdigest()[:16]


def load_proxy(root: str | Path, part: str) -> list[Cutout]:
    """The RGBA cut-outs of `root/instances/` in one class part."""
    cutouts = []
    for row in proxy_rows(root, part):
        path = Path(root) / "instances" / row["file"]
        rgba = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4:
            raise DataError(f"{path}: not an RGBA image (cut-outs need an alpha channel)")
        image = cv2.cvtColor(rgba[..., :3], cv2.COLOR_BGR2RGB)
        cutouts.append(Cutout(image, rgba[..., 3].astype(np.float32) / 255, OUTLIER_LABEL,
                              row["category"], row["file"]))
    if not cutouts:
        raise DataError(f"outlier proxy {root}: no whole cut-outs in class part {part!r}")
    return cutouts


def attribution_rows(root: str | Path, files: set[str]) -> list[dict[str, str]]:
    """The proxy's listing rows (licence, Flickr URL) of the cut-outs in `files`, for the
    attribution CC BY / CC BY-SA require wherever frames made from them are written."""
    return [row for row in proxy_listing(root) if row["file"] in files]


def control_cutouts(dataset: LabelledFolder, classes: tuple[str, ...] = CONTROL_CLASSES,
                    limit: int = 400, seed: int = 0) -> list[Cutout]:
    """In-distribution objects cut from labelled frames with their labels: connected components
    of each class, whole (not touching the frame border) and at least MIN_CONTROL_PIXELS.
    At most `limit`, a seeded choice. Each keeps its size and bottom row relative to its frame,
    so it can be pasted where the same camera would see it."""
    ids = {CITYSCAPES_CLASSES.index(name): name for name in classes}
    found: list[Cutout] = []
    for sample in dataset:
        height, width = sample.label.shape
        for train_id, name in ids.items():
            mask = (sample.label == train_id).astype(np.uint8)
            count, components, boxes, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            for index in range(1, count):
                left, top, box_w, box_h, area = boxes[index]
                touches = left == 0 or top == 0 or left + box_w == width or top + box_h == height
                if area < MIN_CONTROL_PIXELS or touches or min(box_w, box_h) < 8:
                    continue
                box = np.s_[top:top + box_h, left:left + box_w]
                alpha = (components[box] == index).astype(np.float32)
                found.append(Cutout(sample.image[box].copy(), alpha, train_id, name, sample.name,
                                    (top + box_h) / height, box_w / width))
    if not found:
        raise DataError(f"dataset {dataset.name!r} has no whole objects of {classes} to paste "
                        "as controls")
    order = np.random.default_rng(seed).permutation(len(found))[:limit]
    return [found[i] for i in sorted(order)]
