"""The embedded demo model shipped in the package: present, small, loadable, paired."""

from __future__ import annotations

import json

from flowenedet_core import embedded
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.checkpoint import BackboneInfo, check_pairing, load_checkpoint
from flowenedet_ros.parameter_file import load_parameter_file


def test_embedded_files_are_small_and_described():
    files = [p for p in embedded.DIRECTORY.rglob("*") if p.is_file() and p.suffix != ".py"]
    assert sum(p.stat().st_size for p in files) < 5 * 2**20  # a few MB in the package
    info = json.loads(embedded.weights().with_suffix(".json").read_text())
    assert info["backbone"] == embedded.BACKBONE and info["val_miou"] > 70


def test_embedded_detectors_pair_with_the_embedded_backbone():
    backbone = create_backbone(embedded.BACKBONE, embedded.weights())
    info = BackboneInfo.of(backbone, embedded.BACKBONE, embedded.weights())
    for variant in embedded.DETECTORS:
        checkpoint = load_checkpoint(embedded.detector(variant))
        check_pairing(checkpoint, info)
        assert checkpoint.detector.config.variant == variant


def test_shipped_thresholds_are_a_valid_node_parameter_file():
    values = load_parameter_file(embedded.thresholds())
    assert 0 < values["pixel_threshold"] < 1 and 0 < values["scene_threshold"] < 1
