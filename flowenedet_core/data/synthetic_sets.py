"""Synthetic street scenes written as the folders the rest of the package reads: a Cityscapes tree
(train / val, with mild covariate shifts so light weather stays in distribution), an anomaly
folder (out-of-distribution objects on the road, masks 0/1), and real labelled frames with
synthetic objects pasted onto their road (an out-of-distribution check that needs no anomaly
data set, e.g. on frames held out from FED's training)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..cityscapes_classes import IGNORE_INDEX
from ..errors import ConfigError
from .datasets import LabelledFolder
from .synthetic import ROAD, render_scene

CITY = "synth"
MILD_SHIFTS = (None, None, None, ("fog", 0.35), ("noise", 0.2), ("blur", 0.15), ("night", 0.2))


def write_image(path: Path, array: np.ndarray) -> None:
    """An RGB image or a label map as PNG, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), array):
        raise OSError(f"cannot write {path}")


def write_cityscapes(root: Path, split: str, count: int, seed: int,
                     size: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    for index in tqdm(range(count), desc=f"synthetic {split}", unit="img"):
        shift = MILD_SHIFTS[int(rng.integers(len(MILD_SHIFTS)))]
        frame = render_scene(int(rng.integers(1 << 30)), size, shift=shift and shift[0],
                             severity=shift[1] if shift else 0.0,
                             advance=float(rng.uniform(0, 60)))
        stem = f"{CITY}_{index:06d}_000019"
        write_image(root / "leftImg8bit" / split / CITY / f"{stem}_leftImg8bit.png", frame.image)
        write_image(root / "gtFine" / split / CITY / f"{stem}_gtFine_labelTrainIds.png",
               frame.labels)


def write_anomaly(root: Path, count: int, seed: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    for index in tqdm(range(count), desc="synthetic anomaly", unit="img"):
        frame = render_scene(int(rng.integers(1 << 30)), size, anomalies=int(rng.integers(1, 3)),
                             advance=float(rng.uniform(0, 60)))
        write_image(root / "images" / f"{index:04d}.png", frame.image)
        write_image(root / "labels_masks" / f"{index:04d}.png", frame.anomaly)


def write_synthetic_data(root: str | Path, train: int, val: int, anomaly: int, seed: int = 0,
                         size: tuple[int, int] = (256, 512)) -> dict[str, Path]:
    """root/cityscapes (train, val) and root/anomaly; returns the two folders."""
    root = Path(root)
    write_cityscapes(root / "cityscapes", "train", train, seed, size)
    write_cityscapes(root / "cityscapes", "val", val, seed + 1, size)
    write_anomaly(root / "anomaly", anomaly, seed + 2, size)
    return {"cityscapes": root / "cityscapes", "anomaly": root / "anomaly"}


@dataclass(frozen=True)
class PasteGeometry:
    """Objects of a physical width at a distance ahead, seen by a forward pinhole camera: width
    `widths` m (uniform), `distances` m ahead (log-uniform: every apparent scale about equally
    often; uniform would put few near, large objects among a few dozen frames), horizontal
    field of view `fov_deg`,
    `camera_height` m above a flat road whose horizon is the frame's topmost road row (defaults:
    a Cityscapes-like car camera). An object's width is focal * width / distance pixels and its
    bottom lies on the road row of that distance."""

    widths: tuple[float, float] = (0.3, 2.0)
    distances: tuple[float, float] = (5.0, 60.0)
    fov_deg: float = 50.0
    camera_height: float = 1.2

    def __post_init__(self) -> None:
        if not (0 < self.widths[0] <= self.widths[1] and 0 < self.distances[0] <= self.distances[1]
                and 0 < self.fov_deg < 180 and self.camera_height > 0):
            raise ConfigError(f"paste geometry {self}: widths, distances, field of view "
                              "and camera height must be positive ranges")

    def focal(self, width_px: int) -> float:
        return width_px / 2 / np.tan(np.radians(self.fov_deg) / 2)


def _synthetic_object(shape: tuple[int, int], rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """One or two rendered road objects, cropped to their box: RGB patch and 0/1 mask."""
    for _ in range(50):
        frame = render_scene(int(rng.integers(1 << 30)), shape,
                             anomalies=int(rng.integers(1, 3)), advance=float(rng.uniform(0, 60)))
        rows, cols = np.nonzero(frame.anomaly)
        if rows.size >= 64:
            break
    box = np.s_[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return frame.image[box], frame.anomaly[box]


def _place(width: int, road_rows: np.ndarray, road_cols: np.ndarray,
           patch_mask: np.ndarray, geometry: PasteGeometry | None, rng: np.random.Generator
           ) -> tuple[np.ndarray, int, int]:
    """The patch's mask (rescaled under `geometry`) and the road pixel its bottom centre is on."""
    if geometry is None:
        pick = int(rng.integers(road_rows.size))
        return patch_mask, int(road_rows[pick]), int(road_cols[pick])
    focal = geometry.focal(width)
    distance = float(np.exp(rng.uniform(*np.log(geometry.distances))))
    object_px = focal * rng.uniform(*geometry.widths) / distance
    scale = max(object_px, 1.0) / patch_mask.shape[1]
    size = (max(1, round(patch_mask.shape[1] * scale)), max(1, round(patch_mask.shape[0] * scale)))
    patch_mask = cv2.resize(patch_mask, size, interpolation=cv2.INTER_NEAREST)
    ground_row = road_rows.min() + focal * geometry.camera_height / distance
    nearest = np.abs(road_rows - ground_row)
    candidates = np.flatnonzero(nearest == nearest.min())
    pick = int(rng.choice(candidates))
    return patch_mask, int(road_rows[pick]), int(road_cols[pick])


def paste_on_road(image: np.ndarray, label: np.ndarray, rng: np.random.Generator,
                  geometry: PasteGeometry | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One or two synthetic road objects moved onto a road pixel of a real frame (their bottom
    centre there, as if lying on the road): a random road pixel at the rendered size, or under
    `geometry` at a sampled distance, sized and placed by it. Returns the image and its anomaly
    mask: 1 on the object, 0 in distribution, 255 where the frame's label is void."""
    height, width = label.shape
    road_rows, road_cols = np.nonzero(label[height // 3:] == ROAD)
    if road_rows.size == 0:
        road_rows, road_cols = np.nonzero(label[height // 3:] != IGNORE_INDEX)
    road_rows = road_rows + height // 3
    patch, patch_mask = _synthetic_object((height, width), rng)
    patch_mask, bottom, centre = _place(width, road_rows, road_cols, patch_mask, geometry, rng)
    patch = cv2.resize(patch, patch_mask.shape[::-1], interpolation=cv2.INTER_LINEAR)
    object_rows, object_cols = np.nonzero(patch_mask)
    target_rows = object_rows + bottom - object_rows.max()
    target_cols = object_cols + centre - int(object_cols.mean())
    inside = (target_rows >= 0) & (target_rows < height) & (target_cols >= 0) & \
        (target_cols < width)
    pasted = image.copy()
    pasted[target_rows[inside], target_cols[inside]] = patch[object_rows[inside],
                                                             object_cols[inside]]
    mask = np.where(label == IGNORE_INDEX, IGNORE_INDEX, 0).astype(np.uint8)
    mask[target_rows[inside], target_cols[inside]] = 1
    return pasted, mask


def write_pasted_anomalies(dataset: LabelledFolder, root: str | Path, seed: int,
                           geometry: PasteGeometry | None = None) -> Path:
    """An anomaly folder of `dataset`'s frames with synthetic objects pasted on their road."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for sample in tqdm(dataset, desc="pasting objects", unit="img"):
        image, mask = paste_on_road(sample.image, sample.label, rng, geometry)
        write_image(root / "images" / f"{sample.name}.png", image)
        write_image(root / "labels_masks" / f"{sample.name}.png", mask)
    return root
