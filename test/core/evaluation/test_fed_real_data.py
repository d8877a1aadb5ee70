"""A short FED-U training on the real Cityscapes frames, evaluated on RoadAnomaly21 (slow)."""

import json

import pytest

from flowenedet_core.cli.main import main

pytestmark = pytest.mark.slow


def test_short_fed_u_training_beats_msp_on_road_anomaly21(shared_data, erfnet_weights,
                                                          tmp_path):
    common = ["--backbone", "erfnet", "--weights", str(erfnet_weights)]
    assert main(["train", *common, "--data", f"cityscapes:{shared_data / 'cityscapes'}:train",
                 "--variant", "fed-u", "--raw-logits", "--iters", "300", "--scales", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "fed")]) == 0
    report = tmp_path / "eval.json"
    assert main(["eval", *common, "--fed", str(tmp_path / "fed"), "--scores", "msp,fed",
                 "--data", f"ra=anomaly:{shared_data / 'anomaly' / 'RoadAnomaly21'}",
                 "--json", str(report)]) == 0
    results = json.loads(report.read_text())["datasets"]["ra"]
    assert results["fed"]["ap"] > results["msp"]["ap"]
    assert results["fed"]["fpr95"] < results["msp"]["fpr95"]
