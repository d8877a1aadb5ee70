"""Shared fixtures: where the real data lives (../shared/data), skipping visibly without it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FLOWENEDET_SHARED_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# The fused FED flow's tests run its Triton kernels in Triton's CPU interpreter where there is no
# GPU. Triton reads this once, at its first import — which torch._dynamo (export) does — so it is
# set here, before any test module loads.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(scope="session", autouse=True)
def engine_cache(tmp_path_factory) -> Path:
    """The cache of exported graphs and engines (FLOWENEDET_CACHE) of every test and every
    process it starts: a temporary folder, never the user's ~/.cache."""
    from flowenedet_core.engines.cache import CACHE_VARIABLE

    directory = tmp_path_factory.mktemp("engine-cache")
    os.environ[CACHE_VARIABLE] = str(directory)
    return directory


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "erfnet" / "erfnet_cityscapes.pth").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (set FLOWENEDET_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_data_or_none() -> Path | None:
    """The real data when present (tests then use real frames), else None (synthetic ones)."""
    return SHARED_DATA if (SHARED_DATA / "anomaly").is_dir() else None


@pytest.fixture(scope="session")
def erfnet_weights(shared_data: Path) -> Path:
    return shared_data / "erfnet" / "erfnet_cityscapes.pth"


@pytest.fixture(scope="session")
def realsense_bag() -> Path:
    """A real ROS 1 recording (RealSense D4xx: rgb8 colour, mono16 depth), as it was recorded."""
    path = SHARED_DATA / "bags" / "realsense_d4xx_single_frame.bag"
    if not path.is_file():
        pytest.skip(f"{path} not found (set FLOWENEDET_SHARED_DATA)")
    return path


def write_png(path: Path, array) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), array)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict[str, Path]:
    """A few synthetic frames in the Cityscapes and anomaly layouts, and random ERFNet weights."""
    import numpy as np

    from flowenedet_core.backbones.erfnet import ERFNet

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2)):
        for index in range(count):
            stem = f"city_{index:06d}_000019"
            image = rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)
            label = rng.integers(0, 19, (64, 128), dtype=np.uint8)
            label[:4] = 255
            write_png(root / "cityscapes" / "leftImg8bit" / split / "city"
                      / f"{stem}_leftImg8bit.png", image)
            write_png(root / "cityscapes" / "gtFine" / split / "city"
                      / f"{stem}_gtFine_labelTrainIds.png", label)
    for index in range(3):
        image = rng.integers(0, 255, (48, 96, 3), dtype=np.uint8)
        mask = np.zeros((48, 96), dtype=np.uint8)
        mask[10:20, 30:50] = 1 if index else 0
        mask[-3:] = 255
        write_png(root / "anomaly" / "images" / f"{index}.png", image)
        write_png(root / "anomaly" / "labels_masks" / f"{index}.png", mask)
    torch.manual_seed(0)
    weights = root / "erfnet_random.pth"
    torch.save({f"module.{k}": v for k, v in ERFNet().state_dict().items()}, weights)
    return {"root": root, "cityscapes": root / "cityscapes", "anomaly": root / "anomaly",
            "weights": weights}


@pytest.fixture(scope="session")
def tiny_fed(tiny_data, tmp_path_factory) -> Path:
    """A FED-C checkpoint for the random ERFNet with random (not identity) parameters."""
    from flowenedet_core.fed.detector import FEDConfig

    return random_fed_checkpoint(tiny_data["weights"], tmp_path_factory.mktemp("fed"),
                                 FEDConfig(variant="fed-c", num_blocks=2, condition_groups=16))


def random_fed_checkpoint(weights: Path, directory: Path, config) -> Path:
    """A checkpoint of `config` for the random ERFNet of `weights`, parameters drawn N(0, 0.3)."""
    from flowenedet_core.backbones.registry import create_backbone
    from flowenedet_core.checkpoint import BackboneInfo, DetectorCheckpoint, save_checkpoint
    from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES
    from flowenedet_core.fed.detector import FlowEneDet
    from flowenedet_core.fed.statistics import SMLStatistics

    torch.manual_seed(1)
    backbone = create_backbone("erfnet", weights, input_size=(64, 128))
    count = len(CITYSCAPES_CLASSES)
    statistics = SMLStatistics(CITYSCAPES_CLASSES, (1.0,) * count, (2.0,) * count, (1,) * count)
    detector = FlowEneDet(config, statistics)
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.normal_(0, 0.3)
    save_checkpoint(directory, DetectorCheckpoint(
        detector, BackboneInfo.of(backbone, "erfnet", weights)))
    return directory


@pytest.fixture(scope="session")
def tiny_spec(tiny_data, tiny_fed):
    """Random ERFNet + the random FED-C at 64x128."""
    from flowenedet_core.export.model_spec import ModelSpec

    return ModelSpec("erfnet", tiny_data["weights"], (64, 128), fed=tiny_fed)


@pytest.fixture(scope="session")
def tiny_separable_spec(tiny_data, tiny_spec, tmp_path_factory):
    """tiny_spec with a separable FED-C: a configuration the GPU path runs fused."""
    from dataclasses import replace

    from flowenedet_core.fed.detector import FEDConfig

    directory = random_fed_checkpoint(
        tiny_data["weights"], tmp_path_factory.mktemp("separable"),
        FEDConfig(variant="fed-c", num_blocks=2, separable=True, condition_groups=8))
    return replace(tiny_spec, fed=directory)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_spec, tmp_path_factory) -> Path:
    from flowenedet_core.runtime.artifacts import export_spec

    return export_spec(tiny_spec, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


CATEGORIES = ("chair", "chair", "chair", "cup", "cup", "dog", "kite", "bowl", "bowl", "bowl")


def write_proxy(root: Path, categories: tuple[str, ...] = CATEGORIES,
                border: tuple[int, ...] = ()) -> Path:
    """A proxy folder as the project expects one: RGBA cut-outs (a red disc on transparency)
    and instances.csv with categories, border flags and licences."""
    rows = []
    for index, category in enumerate(categories):
        rgba = np.zeros((40, 30, 4), np.uint8)
        yy, xx = np.mgrid[:40, :30]
        disc = (yy - 20) ** 2 + (xx - 15) ** 2 <= 14 ** 2
        rgba[disc] = (0, 0, 255, 255)  # BGR red, opaque
        (root / "instances").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / "instances" / f"{index}.png"), rgba)
        rows.append({"file": f"{index}.png", "category": category,
                     "touches_image_border": "1" if index in border else "0",
                     "image_license": "CC BY 2.0", "flickr_url": f"http://flickr/{index}"})
    with (root / "instances.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root
