"""Real data through bags (slow): RoadAnomaly21 and FS Static -> make-bag -> replay give the
metrics `flowenedet eval` gives on the same folders."""

from __future__ import annotations

import json

import pytest

from flowenedet_core.cli.main import main as core_main
from flowenedet_ros.cli import main

pytestmark = pytest.mark.slow
SETS = ("RoadAnomaly21", "FS_Static")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_replayed_bags_reproduce_eval(shared_data, erfnet_weights, tmp_path, storage):
    folders = {name: shared_data / "anomaly" / name for name in SETS}
    assert core_main(["eval", "--backbone", "erfnet", "--weights", str(erfnet_weights),
                      "--scores", "msp", "--threads", "2", "--json", str(tmp_path / "eval.json"),
                      *[f"--data={name}=anomaly:{folder}" for name, folder in folders.items()]
                      ]) == 0
    expected = json.loads((tmp_path / "eval.json").read_text())["datasets"]
    for name, folder in folders.items():
        bag = tmp_path / f"{name}-bag"
        assert main(["make-bag", str(bag), "--data", f"anomaly:{folder}", "--storage", storage,
                     "--encoding", "bgr8"]) == 0
        assert main(["replay", str(bag), "--out", str(tmp_path / name),
                     "-p", f"weights:={erfnet_weights}", "-p", "score:=msp",
                     "-p", "backend:=onnxruntime", "-p", "threads:=2",
                     "-p", f"artifacts_dir:={tmp_path / 'artifacts'}"]) == 0
        metrics = json.loads((tmp_path / name / "summary.json").read_text())["metrics"]
        reference = expected[name]["msp"]
        assert metrics["frames"] == expected[name]["images"]
        assert metrics["skipped_without_positives"] == expected[name]["skipped_without_anomaly"]
        assert metrics["ap"] == pytest.approx(reference["ap"], abs=0.1), name
        assert metrics["auroc"] == pytest.approx(reference["auroc"], abs=0.1), name


def test_calibrated_flag_holds_its_rate_on_held_back_frames(shared_data, erfnet_weights,
                                                             tmp_path):
    """Calibrate on two thirds of the real Cityscapes frames (every third one held back, train
    and val alike) and RoadAnomaly21; the node's settings from the written file then flag the
    held-back frames no more often than the calibration promised."""
    frames = sorted((shared_data / "cityscapes" / "leftImg8bit").glob("*/*/*.png"))
    for index, frame in enumerate(frames):
        part = tmp_path / ("held_back" if index % 3 == 2 else "calibration")
        part.mkdir(exist_ok=True)
        (part / frame.name).symlink_to(frame)
    model = ["-p", f"weights:={erfnet_weights}", "-p", "score:=msp", "-p", "backend:=onnxruntime",
             "-p", "threads:=2", "-p", f"artifacts_dir:={tmp_path / 'artifacts'}"]
    bags = {"calibration": ["--images", str(tmp_path / "calibration")],
            "held_back": ["--images", str(tmp_path / "held_back")],
            "anomaly": ["--data", f"anomaly:{shared_data / 'anomaly' / 'RoadAnomaly21'}"]}
    for name, source in bags.items():
        assert main(["make-bag", str(tmp_path / f"{name}-bag"), *source]) == 0
    for name in ("calibration", "anomaly"):
        assert main(["replay", str(tmp_path / f"{name}-bag"), "--out", str(tmp_path / name),
                     "--outputs", "uncertainty,low_confidence", *model]) == 0
    params = tmp_path / "calibrated.yaml"
    assert main(["calibrate", "--inlier", str(tmp_path / "calibration" / "bag"),
                 "--anomaly", str(tmp_path / "anomaly" / "bag"), *model,
                 "--target", "0.001", "--out", str(params)]) == 0
    promised = json.loads(params.with_suffix(".json").read_text())["choice"]["far_bound"]
    assert main(["replay", str(tmp_path / "held_back-bag"), "--out", str(tmp_path / "check"),
                 "--params", str(params), "--outputs", "low_confidence"]) == 0
    summary = json.loads((tmp_path / "check" / "summary.json").read_text())
    assert summary["frames"]["served"] == len(frames) // 3
    assert summary["flag"]["raised_frames"] / summary["frames"]["served"] <= promised
