"""The embedded demo model shipped in the package: present, small, loadable, paired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowenedet_core import embedded
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.checkpoint import BackboneInfo, check_pairing, load_checkpoint
from flowenedet_core.cli.main import main
from flowenedet_core.errors import WeightsError
from flowenedet_core.export.onnx_export import read_graph_info
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


def test_embedded_names_resolve_to_the_shipped_files():
    assert embedded.resolve("embedded:erfnet-tiny") == embedded.weights()
    assert embedded.resolve("embedded:fed-c") == embedded.detector("fed-c")
    assert embedded.resolve("embedded:thresholds") == embedded.thresholds()
    assert embedded.resolve("~/weights.pth") == Path.home() / "weights.pth"


def test_an_unknown_embedded_name_lists_the_known_ones():
    with pytest.raises(WeightsError, match=r"unknown embedded model 'embedded:fed-x'; the "
                       r"embedded ones are embedded:erfnet-tiny, embedded:fed-u, embedded:fed-c"):
        embedded.resolve("embedded:fed-x")


def test_cli_takes_embedded_weights_and_detector(tmp_path):
    out = tmp_path / "model.onnx"
    assert main(["export", "--backbone", "erfnet-tiny", "--weights", "embedded:erfnet-tiny",
                 "--fed", "embedded:fed-u", "--size", "64x128", "--out", str(out)]) == 0
    info, _ = read_graph_info(out)
    assert info.head == "fed" and info.image_size == (64, 128)


def test_cli_refuses_an_unknown_embedded_name_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--backbone", "erfnet-tiny", "--weights", "embedded:erfnet",
              "--out", "x.onnx"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith("argument --weights: unknown embedded model 'embedded:erfnet'; the "
                          "embedded ones are embedded:erfnet-tiny, embedded:fed-u, "
                          "embedded:fed-c, embedded:thresholds")
