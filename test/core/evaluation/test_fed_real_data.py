"""The README's FED-U recipe on the real Cityscapes frames, evaluated on RoadAnomaly21.

Slow (about 14 minutes on 2 cores): shorter runs (300 or 1500 iterations on fewer scales) stay
below MSP, so only the documented recipe is checked.
"""

import json

import pytest

from flowenedet_core.cli.main import main

pytestmark = pytest.mark.slow


def test_readme_fed_u_recipe_beats_msp_on_road_anomaly21(shared_data, erfnet_weights,
                                                          tmp_path):
    common = ["--backbone", "erfnet", "--weights", str(erfnet_weights)]
    assert main(["train", *common, "--data", f"cityscapes:{shared_data / 'cityscapes'}:train",
                 "--variant", "fed-u", "--raw-logits", "--iters", "4000",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "fed")]) == 0
    report = tmp_path / "eval.json"
    assert main(["eval", *common, "--fed", str(tmp_path / "fed"), "--scores", "msp,fed",
                 "--data", f"ra=anomaly:{shared_data / 'anomaly' / 'RoadAnomaly21'}",
                 "--json", str(report)]) == 0
    results = json.loads(report.read_text())["datasets"]["ra"]
    assert results["fed"]["ap"] > results["msp"]["ap"]
    assert results["fed"]["fpr95"] < results["msp"]["fpr95"]
