"""A backbone of the user's own, named `module:callable`, without editing the package."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from flowenedet_core.backbones.base import Backbone
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.errors import ConfigError
from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
from flowenedet_ros.parameter_file import load_parameter_file
from flowenedet_ros.pipeline_factory import create_pipeline

MODULE = "user_backbone"
USER_MODULE = '''
import torch
from torch import nn

from flowenedet_core.backbones.base import Backbone, BackboneOutput, Preprocessing, freeze
from flowenedet_core.backbones.weights import load_into, read_state_dict
from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES


class TinyNet(Backbone):
    name = "tinynet"
    class_names = CITYSCAPES_CLASSES

    def __init__(self, input_size=(32, 64)):
        super().__init__()
        self.preprocessing = Preprocessing(tuple(input_size))
        self.features = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.classifier = nn.Conv2d(8, len(CITYSCAPES_CLASSES), 1)

    def forward(self, x):
        features = torch.relu(self.features(x))
        return BackboneOutput(self.classify(features), features, features)

    def classify(self, classifier_input):
        return self.classifier(classifier_input)


def build(weights, **options):
    model = TinyNet(**options)
    if weights is not None:
        load_into(model, read_state_dict(weights), weights)
    return freeze(model)


def not_a_backbone(weights, **options):
    return nn.Linear(2, 2)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(its folder, trained-looking weights): the module on sys.path, as PYTHONPATH puts it."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    torch.manual_seed(0)
    weights = tmp_path / "tinynet.pth"
    torch.save(create_backbone(f"{MODULE}:build", None).state_dict(), weights)
    return tmp_path, weights


def test_a_user_callable_builds_the_backbone_with_its_weights(user_module):
    _, weights = user_module
    model = create_backbone(f"{MODULE}:build", weights, input_size=(16, 32))
    assert isinstance(model, Backbone) and model.preprocessing.input_size == (16, 32)
    assert torch.equal(model.classifier.weight, torch.load(weights)["classifier.weight"])


@pytest.mark.parametrize(("name", "message"), [
    ("erfnet-huge", r"unknown backbone 'erfnet-huge'; choose from erfnet, .* or give "
                    "module:callable"),
    ("no_such_module:build", "cannot import no_such_module .* PYTHONPATH"),
    (f"{MODULE}:missing", f"{MODULE} has no callable 'missing'"),
    (f"{MODULE}:not_a_backbone", "built a Linear, not a flowenedet_core.backbones.Backbone"),
])
def test_a_bad_backbone_name_says_what_is_wrong(user_module, name, message):
    with pytest.raises(ConfigError, match=message):
        create_backbone(name, None)


def test_the_cli_exports_a_user_backbone_from_pythonpath(user_module, tmp_path):
    folder, weights = user_module
    out = tmp_path / "user.onnx"
    environment = {**os.environ, "PYTHONPATH": str(folder)}
    result = subprocess.run(
        [sys.executable, "-m", "flowenedet_ros.cli", "export", "--backbone", f"{MODULE}:build",
         "--weights", str(weights), "--score", "entropy", "--out", str(out)],
        env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    outputs = OnnxRuntimeBackend(out).run(np.zeros((1, 32, 64, 3), np.uint8))
    assert outputs["labels"].shape == (1, 32, 64) and outputs["uncertainty"].max() <= 1


def test_the_node_pipeline_runs_a_user_backbone(user_module):
    _, weights = user_module
    values = load_parameter_file(None, {"backbone": f"{MODULE}:build", "weights": str(weights),
                                        "backend": "onnxruntime", "score": "msp"})
    pipeline = create_pipeline(values)  # what the node and replay build from their parameters
    prediction = pipeline.infer(np.zeros((48, 80, 3), np.uint8))
    assert prediction.labels.shape == prediction.uncertainty.shape == (48, 80)
