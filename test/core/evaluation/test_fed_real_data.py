"""The README's FED-U recipe for ERFNet (the recipe study's choice) on the real Cityscapes frames,
evaluated on RoadAnomaly21.

Slow (about 15 minutes on 2 cores: 832 sampler crops through ERFNet, 3000 iterations).
"""

import json

import pytest

from flowenedet_core.cli.main import main

pytestmark = pytest.mark.slow


def test_readme_fed_u_recipe_beats_msp_on_road_anomaly21(shared_data, erfnet_weights,
                                                          tmp_path):
    common = ["--backbone", "erfnet", "--weights", str(erfnet_weights)]
    assert main(["train", *common, "--data", f"cityscapes:{shared_data / 'cityscapes'}:train",
                 "--variant", "fed-u", "--views", "sampler", "--crop", "256x512",
                 "--ratio-range", "0.75,1.25", "--photometric", "--corruptions",
                 "fog,brightness,contrast,gaussian_noise,motion_blur", "--corruption-prob", "0.5",
                 "--raw-logits", "--iters", "3000",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "fed")]) == 0
    report = tmp_path / "eval.json"
    assert main(["eval", *common, "--fed", str(tmp_path / "fed"), "--scores", "msp,fed",
                 "--data", f"ra=anomaly:{shared_data / 'anomaly' / 'RoadAnomaly21'}",
                 "--json", str(report)]) == 0
    results = json.loads(report.read_text())["datasets"]["ra"]
    assert results["fed"]["ap"] > results["msp"]["ap"]
    assert results["fed"]["fpr95"] < results["msp"]["fpr95"]
