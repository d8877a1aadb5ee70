"""The procedural street scenes: deterministic, labelled consistently, camera-like, shiftable."""

from __future__ import annotations

import numpy as np
import pytest

from flowenedet_core.data.datasets import AnomalyFolder, CityscapesFolder
from flowenedet_core.data.synthetic import (
    ROAD,
    SKY,
    VOID,
    Street,
    apply_shift,
    render_scene,
)
from flowenedet_core.data.synthetic_drive import DEMO_DRIVE, Stretch, drive
from flowenedet_core.data.synthetic_sets import write_synthetic_data


def test_scenes_are_deterministic_from_the_seed():
    a, b = render_scene(7, anomalies=1), render_scene(7, anomalies=1)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, render_scene(8, anomalies=1).image)


def test_labels_are_train_ids_in_a_camera_layout():
    frame = render_scene(3, size=(128, 256))
    assert frame.image.shape == (128, 256, 3) and frame.labels.shape == (128, 256)
    assert set(np.unique(frame.labels)) <= set(range(19))
    assert (frame.labels[0] == SKY).mean() > 0.2  # sky above
    assert (frame.labels[-10:, 100:156] == ROAD).mean() > 0.9  # road ahead, below
    assert not frame.anomaly.any()
    classes = set(np.unique(frame.labels))
    assert {0, 1, 2, 10} <= classes and classes & {11, 13}  # road, sidewalk, building, sky


def test_anomalies_lie_on_the_road_and_are_void_in_the_labels():
    frame = render_scene(11, anomalies=2)
    assert frame.anomaly.sum() > 200
    assert (frame.labels[frame.anomaly == 1] == VOID).all()
    rows = np.flatnonzero(frame.anomaly.any(axis=1))
    assert rows.max() > 0.5 * frame.image.shape[0]  # standing on the road, below the horizon


def test_fog_hides_the_far_scene_more_when_heavier():
    street = Street(5)
    frame, depth = street.render()
    contrast = [apply_shift(frame.image, depth, "fog", s).std() for s in (0.0, 0.3, 0.95)]
    assert contrast[0] > contrast[1] > contrast[2]
    for shift in ("night", "noise", "blur"):
        shifted = apply_shift(frame.image, depth, shift, 0.5)
        assert shifted.shape == frame.image.shape and not np.array_equal(shifted, frame.image)


def test_the_demo_drive_has_its_stretches_in_order():
    stretches = (Stretch("clear", 2), Stretch("anomaly", 3, anomalies=1),
                 Stretch("heavy fog", 2, shift="fog", severity=0.95))
    frames = list(drive(stretches, seed=1, size=(64, 128)))
    assert [index for index, _ in frames] == [0, 0, 1, 1, 1, 2, 2]
    assert all(f.anomaly.any() for i, f in frames if i == 1)
    assert not any(f.anomaly.any() for i, f in frames if i != 1)
    assert [s.expect_flag for s in DEMO_DRIVE].count(True) == 3  # two anomaly, one heavy fog


def test_synthetic_folders_read_as_datasets(tmp_path):
    folders = write_synthetic_data(tmp_path, train=2, val=1, anomaly=2, size=(64, 128))
    train = CityscapesFolder("train", folders["cityscapes"], "train")
    anomaly = AnomalyFolder("anomaly", folders["anomaly"])
    assert len(train) == 2 and len(anomaly) == 2
    assert train[0].image.shape == (64, 128, 3)
    assert set(np.unique(anomaly[0].label)) <= {0, 1}


def test_objects_pasted_on_the_road_are_the_only_anomaly_and_void_stays_void():
    from flowenedet_core.data.synthetic_sets import paste_on_road

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (128, 256, 3), dtype=np.uint8)
    label = np.full((128, 256), 8, dtype=np.uint8)
    label[80:, 60:200] = ROAD
    label[:10] = 255
    pasted, mask = paste_on_road(image, label, np.random.default_rng(1))
    assert set(np.unique(mask)) <= {0, 1, 255} and (mask == 1).sum() >= 16
    changed = (pasted != image).any(axis=2)
    assert not changed[mask != 1].any()
    assert (mask[:10][mask[:10] != 1] == 255).all()
    rows, cols = np.nonzero(mask == 1)
    assert label[rows.max(), cols[rows == rows.max()]].tolist().count(ROAD) > 0


def test_pasted_objects_follow_the_camera_geometry_nearer_is_larger_and_lower():
    """Under a PasteGeometry an object w m wide at d m is focal * w / d pixels wide and lies on the
    road row of that distance (below the horizon = the topmost road row)."""
    from flowenedet_core.data.synthetic_sets import PasteGeometry, paste_on_road
    from flowenedet_core.errors import ConfigError

    height, width = 256, 512
    image = np.full((height, width, 3), 90, np.uint8)
    label = np.full((height, width), 8, np.uint8)
    label[100:] = ROAD  # horizon at row 100
    boxes = {}
    for distance in (6.0, 40.0):
        geometry = PasteGeometry(widths=(1.0, 1.0), distances=(distance, distance))
        focal = geometry.focal(width)
        _, mask = paste_on_road(image, label, np.random.default_rng(3), geometry)
        rows, cols = np.nonzero(mask == 1)
        boxes[distance] = rows.max(), cols.max() - cols.min() + 1
        assert abs(boxes[distance][1] - focal / distance) <= 0.25 * focal / distance + 2
        assert abs(rows.max() - (100 + focal * geometry.camera_height / distance)) <= 1
    assert boxes[6.0][1] > 4 * boxes[40.0][1] and boxes[6.0][0] > boxes[40.0][0]
    with pytest.raises(ConfigError):
        PasteGeometry(widths=(2.0, 0.3))


def test_synth_paste_into_at_camera_distances_and_a_bad_geometry_is_one_line(tmp_path, capsys):
    from flowenedet_core.cli.main import main

    folders = write_synthetic_data(tmp_path / "data", train=2, val=0, anomaly=0, size=(128, 256))
    spec = f"cityscapes:{folders['cityscapes']}:train"
    assert main(["synth", "--out", str(tmp_path / "near"), "--paste-into", spec,
                 "--paste-distance", "5,6", "--paste-width", "2,2"]) == 0
    assert main(["synth", "--out", str(tmp_path / "far"), "--paste-into", spec,
                 "--paste-distance", "50,60", "--paste-width", "2,2"]) == 0
    near, far = (AnomalyFolder(name, tmp_path / name / "anomaly") for name in ("near", "far"))
    assert len(near) == len(far) == 2
    for close, distant in zip(near, far, strict=True):
        assert (close.label == 1).sum() > 20 * max((distant.label == 1).sum(), 1)
    capsys.readouterr()
    assert main(["synth", "--out", str(tmp_path / "bad"), "--paste-into", spec,
                 "--paste-distance", "5,60", "--paste-fov", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
