import csv
from dataclasses import fields, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.data.cutouts import (
    OUTLIER_LABEL,
    Cutout,
    class_split,
    control_cutouts,
    load_proxy,
    proxy_rows,
)
from flowenedet_core.data.datasets import LabelledFolder
from flowenedet_core.data.paste import ObjectPaster, PasteConfig, blend, write_cutout_anomalies
from flowenedet_core.data.synthetic_sets import PasteGeometry
from flowenedet_core.errors import DataError
from flowenedet_core.training.cache import CacheSpec
from flowenedet_core.training.sampler import CropSampler, SamplerConfig, draw_generator

from conftest import CATEGORIES, write_png, write_proxy


def street(height: int = 96, width: int = 192) -> tuple[np.ndarray, np.ndarray]:
    """Sky above a third of the frame, road below, sidewalk on the right edge; a grey image."""
    label = np.full((height, width), 10, np.uint8)
    label[height // 3:] = 0
    label[height // 3:, -20:] = 1
    image = np.full((height, width, 3), 120, np.uint8)
    return image, label


def test_class_split_is_deterministic_disjoint_and_balanced():
    rows = [{"category": c} for c in CATEGORIES]
    split = class_split(rows)
    assert split == class_split(list(reversed(rows)))
    assert set(split) == set(CATEGORIES) and set(split.values()) == {"a", "b"}
    # bowl (3) and chair (3) are dealt to different parts, cup (2) after them
    assert split["bowl"] != split["chair"]
    counts = {part: sum(split[c] == part for c in CATEGORIES) for part in "ab"}
    assert abs(counts["a"] - counts["b"]) <= 3


def test_proxy_parts_leave_out_truncated_cutouts_and_share_no_class(tmp_path):
    root = write_proxy(tmp_path, border=(0,))
    part_a, part_b = proxy_rows(root, "a"), proxy_rows(root, "b")
    assert {r["category"] for r in part_a}.isdisjoint({r["category"] for r in part_b})
    assert len(part_a) + len(part_b) == len(CATEGORIES) - 1
    assert "0.png" not in {r["file"] for r in part_a + part_b}
    with pytest.raises(DataError, match="class part must be one of"):
        proxy_rows(root, "c")
    with pytest.raises(DataError, match=r"no instances\.csv"):
        load_proxy(tmp_path / "missing", "a")


def test_blend_feathers_the_edge_and_labels_the_covered_pixels():
    image, label = street()
    alpha = np.zeros((20, 20), np.float32)
    alpha[2:18, 2:18] = 1
    cutout = Cutout(np.full((20, 20, 3), 250, np.uint8), alpha, OUTLIER_LABEL, "box", "0.png")
    covered = blend(image, label, cutout, 40, bottom=90, centre=100,
                    rng=np.random.default_rng(0))
    rows, cols = np.nonzero(label == OUTLIER_LABEL)
    assert covered == rows.size > 0
    assert rows.max() <= 90 and 75 <= cols.mean() <= 125
    assert 28 <= cols.max() - cols.min() + 1 <= 40  # 40 px wide cut-out, 2 px margins eroded
    row = image[rows.min() + 5, :, 0].astype(int)
    # brighter than the road inside, and a soft ramp (values between road and inside) at the edge
    assert row.max() > 150 and ((row > 125) & (row < row.max() - 5)).sum() >= 2


def test_outliers_near_the_camera_are_larger_than_far_ones(tmp_path):
    root = write_proxy(tmp_path)
    sizes = {}
    for distance in (5.0, 40.0):
        config = PasteConfig(str(root), "all", max_outliers=1, road_share=1.0,
                             geometry=PasteGeometry(widths=(1.0, 1.0),
                                                    distances=(distance, distance)))
        paster = ObjectPaster(config)
        image, label = street(192, 384)
        paster.paste_outlier(image, label, 384, 0, 64, np.random.default_rng(1))
        rows, cols = np.nonzero(label == OUTLIER_LABEL)
        assert rows.size and (label[rows.max() + 1:, cols] != 10).all()  # on the road
        sizes[distance] = cols.max() - cols.min() + 1
    assert sizes[5.0] > 4 * sizes[40.0]


def cityscapes_folder(tmp_path: Path, frames: int = 2) -> LabelledFolder:
    from flowenedet_core.data.datasets import CityscapesFolder

    for index in range(frames):
        image, label = street()
        label[50:70, 30 + 10 * index:60 + 10 * index] = 13  # a car on the road
        image[label == 13] = (10, 10, 200)
        stem = f"city_{index:06d}_000019"
        write_png(tmp_path / "leftImg8bit" / "train" / "city" / f"{stem}_leftImg8bit.png", image)
        write_png(tmp_path / "gtFine" / "train" / "city" / f"{stem}_gtFine_labelTrainIds.png",
                  label)
    return CityscapesFolder("train", tmp_path, "train")


def test_controls_are_cut_from_labelled_frames_and_pasted_as_their_class(tmp_path):
    dataset = cityscapes_folder(tmp_path / "cs")
    controls = control_cutouts(dataset)
    assert {c.category for c in controls} == {"car"} and len(controls) == 2
    assert controls[0].label == 13 and controls[0].bottom_row == pytest.approx(70 / 96)
    root = write_proxy(tmp_path / "proxy")
    config = PasteConfig(str(root), "all", max_outliers=0, max_controls=1)
    paster = ObjectPaster(config, dataset)
    image, label = street()
    pasted = 0
    for draw in range(10):
        crop_image, crop_label = image.copy(), label.copy()
        paster(crop_image, crop_label, label.shape, (0, 0), 32, np.random.default_rng(draw))
        pasted += int((crop_label == 13).any())
        assert not (crop_label == OUTLIER_LABEL).any()
    assert pasted >= 3  # 0..1 controls per crop


def test_sampler_pastes_outliers_into_crops_reproducibly(tmp_path):
    root = write_proxy(tmp_path)
    paste = PasteConfig.from_folder(str(root), "all", max_outliers=3, road_share=0.5)
    config = SamplerConfig(input_size=(96, 192), crop_size=(64, 128), ratio_range=(1.0, 1.0),
                           cat_max_ratio=1.0, paste=paste)
    sampler = CropSampler(config)
    image, label = street()
    crops = [sampler(image, label, draw_generator(0, "f", d)) for d in range(12)]
    counts = [int((c[1] == OUTLIER_LABEL).sum()) for c in crops]
    assert min(counts) == 0 and max(counts) > 0  # some crops without any
    again = sampler(image, label, draw_generator(0, "f", 3))
    np.testing.assert_array_equal(again[0], crops[3][0])
    assert not (crops[0][1] == IGNORE_INDEX).any()


def test_cache_key_covers_every_paste_setting(tmp_path):
    root = write_proxy(tmp_path)
    dataset = LabelledFolder("d", [(tmp_path / "a.png", tmp_path / "b.png")])
    paste = PasteConfig.from_folder(str(root), "a")
    sampler = SamplerConfig(input_size=(96, 192), crop_size=(64, 128), paste=paste)
    spec = CacheSpec("erfnet", None, 16, (96, 192), 4, 8, sampler=sampler, draws=2)
    keys = {spec.key(dataset), replace(spec, sampler=replace(sampler, paste=None)).key(dataset)}
    changed = {"cutouts": "/elsewhere", "classes": "b", "digest": "0" * 16, "max_outliers": 1,
               "road_share": 0.2, "max_controls": 2,
               "geometry": PasteGeometry(distances=(2.0, 20.0))}
    assert set(changed) == {f.name for f in fields(PasteConfig)}
    for name, value in changed.items():
        variant = replace(sampler, paste=replace(paste, **{name: value}))
        keys.add(replace(spec, sampler=variant).key(dataset))
    assert len(keys) == len(changed) + 2
    assert PasteConfig.from_folder(str(root), "b").digest != paste.digest


def test_pasted_anomaly_folder_masks_the_cutouts_and_credits_them(tmp_path):
    dataset = cityscapes_folder(tmp_path / "cs")
    root = write_proxy(tmp_path / "proxy")
    folder = write_cutout_anomalies(dataset, tmp_path / "out", str(root), "b", seed=0)
    masks = sorted((folder / "labels_masks").glob("*.png"))
    assert len(masks) == 2
    mask = cv2.imread(str(masks[0]), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 1, 255} and (mask == 1).any()
    with (folder / "ATTRIBUTION.csv").open() as handle:
        credited = list(csv.DictReader(handle))
    split = class_split(list(csv.DictReader((root / "instances.csv").open())))
    assert credited and all(split[row["category"]] == "b" and row["flickr_url"]
                            for row in credited)
