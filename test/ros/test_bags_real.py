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
