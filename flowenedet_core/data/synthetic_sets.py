"""Synthetic street scenes written as the folders the rest of the package reads: a Cityscapes tree
(train / val, with mild covariate shifts so light weather stays in distribution), an anomaly
folder (out-of-distribution objects on the road, masks 0/1), and real labelled frames with
synthetic objects pasted onto their road (an out-of-distribution check that needs no anomaly
data set, e.g. on frames held out from FED's training)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..cityscapes_classes import IGNORE_INDEX
from .datasets import LabelledFolder
from .synthetic import ROAD, render_scene

CITY = "synth"
MILD_SHIFTS = (None, None, None, ("fog", 0.35), ("noise", 0.2), ("blur", 0.15), ("night", 0.2))


def _write(path: Path, array: np.ndarray) -> None:
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
        _write(root / "leftImg8bit" / split / CITY / f"{stem}_leftImg8bit.png", frame.image)
        _write(root / "gtFine" / split / CITY / f"{stem}_gtFine_labelTrainIds.png",
               frame.labels)


def write_anomaly(root: Path, count: int, seed: int, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    for index in tqdm(range(count), desc="synthetic anomaly", unit="img"):
        frame = render_scene(int(rng.integers(1 << 30)), size, anomalies=int(rng.integers(1, 3)),
                             advance=float(rng.uniform(0, 60)))
        _write(root / "images" / f"{index:04d}.png", frame.image)
        _write(root / "labels_masks" / f"{index:04d}.png", frame.anomaly)


def write_synthetic_data(root: str | Path, train: int, val: int, anomaly: int, seed: int = 0,
                         size: tuple[int, int] = (256, 512)) -> dict[str, Path]:
    """root/cityscapes (train, val) and root/anomaly; returns the two folders."""
    root = Path(root)
    write_cityscapes(root / "cityscapes", "train", train, seed, size)
    write_cityscapes(root / "cityscapes", "val", val, seed + 1, size)
    write_anomaly(root / "anomaly", anomaly, seed + 2, size)
    return {"cityscapes": root / "cityscapes", "anomaly": root / "anomaly"}


def paste_on_road(image: np.ndarray, label: np.ndarray, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One or two synthetic road objects moved onto a random road pixel of a real frame (its
    bottom centre there, as if lying on the road). Returns the image and its anomaly mask:
    1 on the object, 0 in distribution, 255 where the frame's label is void."""
    height, width = label.shape
    rows, cols = np.nonzero(label[height // 3:] == ROAD)
    if rows.size == 0:
        rows, cols = np.nonzero(label[height // 3:] != IGNORE_INDEX)
    for _ in range(50):
        frame = render_scene(int(rng.integers(1 << 30)), (height, width),
                             anomalies=int(rng.integers(1, 3)), advance=float(rng.uniform(0, 60)))
        object_rows, object_cols = np.nonzero(frame.anomaly)
        if object_rows.size >= 64:
            break
    pick = int(rng.integers(rows.size))
    shift_y = height // 3 + rows[pick] - object_rows.max()
    shift_x = cols[pick] - int(object_cols.mean())
    target_rows, target_cols = object_rows + shift_y, object_cols + shift_x
    inside = (target_rows >= 0) & (target_rows < height) & (target_cols >= 0) & \
        (target_cols < width)
    pasted = image.copy()
    pasted[target_rows[inside], target_cols[inside]] = frame.image[object_rows[inside],
                                                                   object_cols[inside]]
    mask = np.where(label == IGNORE_INDEX, IGNORE_INDEX, 0).astype(np.uint8)
    mask[target_rows[inside], target_cols[inside]] = 1
    return pasted, mask


def write_pasted_anomalies(dataset: LabelledFolder, root: str | Path, seed: int) -> Path:
    """An anomaly folder of `dataset`'s frames with synthetic objects pasted on their road."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for sample in tqdm(dataset, desc="pasting objects", unit="img"):
        image, mask = paste_on_road(sample.image, sample.label, rng)
        _write(root / "images" / f"{sample.name}.png", image)
        _write(root / "labels_masks" / f"{sample.name}.png", mask)
    return root
