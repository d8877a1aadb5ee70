"""ONNX Runtime equals the PyTorch pipeline on real frames with the real ERFNet weights."""

import numpy as np
import pytest

from flowenedet_core.data.transforms import read_rgb
from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.fed.detector import FEDConfig
from flowenedet_core.runtime.pipeline import Pipeline


@pytest.fixture(scope="module")
def real_frames(shared_data):
    paths = []
    for subset in ("RoadAnomaly21", "FS_Static"):
        paths += sorted((shared_data / "anomaly" / subset / "images").iterdir())[:2]
    return [read_rgb(path) for path in paths]


def test_onnxruntime_equals_pytorch_on_real_frames(erfnet_weights, real_frames, tmp_path):
    spec = ModelSpec("erfnet", erfnet_weights,
                     untrained_fed=FEDConfig(variant="fed-c", condition_groups=16))
    torch_pipeline = Pipeline.create(spec, backend="torch", device="cpu")
    onnx_pipeline = Pipeline.create(spec, backend="onnxruntime", artifacts=tmp_path)
    for frame in real_frames:
        expected, actual = torch_pipeline.infer(frame), onnx_pipeline.infer(frame)
        assert actual.labels.shape == frame.shape[:2]
        assert (actual.labels == expected.labels).mean() >= 0.999
        assert np.abs(actual.uncertainty - expected.uncertainty).max() <= 1e-3
