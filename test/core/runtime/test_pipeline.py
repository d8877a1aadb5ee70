import numpy as np
import pytest

from flowenedet_core.errors import DataError
from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
from flowenedet_core.runtime.pipeline import Pipeline
from flowenedet_core.runtime.torch_backend import TorchBackend


@pytest.fixture(scope="module")
def onnx_pipeline(tiny_onnx):
    return Pipeline.create(onnx=tiny_onnx, backend="onnxruntime")


def test_pipeline_serves_frames_of_any_size_at_their_own_size(onnx_pipeline):
    frame = np.random.default_rng(0).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    prediction = onnx_pipeline.infer(frame)
    assert prediction.labels.shape == (90, 160) and prediction.labels.dtype == np.uint8
    assert prediction.uncertainty.shape == (90, 160)
    assert prediction.uncertainty.dtype == np.float32
    assert prediction.uncertainty.min() >= 0 and prediction.uncertainty.max() <= 1
    assert set(prediction.timings) == {"convert", "inference", "postprocess", "total"}


@pytest.mark.parametrize("image", [np.zeros((64, 128), np.uint8),
                                   np.zeros((64, 128, 3), np.uint16),
                                   np.zeros((64, 128, 4), np.uint8),
                                   np.zeros((0, 128, 3), np.uint8)])
def test_pipeline_rejects_what_is_not_an_rgb_frame(onnx_pipeline, image):
    with pytest.raises(DataError, match="image"):
        onnx_pipeline.infer(image)


def test_torch_pipeline_needs_the_model_not_only_an_onnx_file(tiny_onnx):
    with pytest.raises(DataError, match="backend torch runs the PyTorch model"):
        Pipeline.create(onnx=tiny_onnx, backend="torch")


def test_onnx_export_is_cached_by_fingerprint(tiny_spec, tmp_path):
    first = Pipeline.create(tiny_spec, backend="onnxruntime", artifacts=tmp_path)
    path = first.runtime.path
    modified = path.stat().st_mtime_ns
    second = Pipeline.create(tiny_spec, backend="onnxruntime", artifacts=tmp_path)
    assert second.runtime.path == path and path.stat().st_mtime_ns == modified
    assert path.name.startswith("erfnet-fed-64x128-fp32-")


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_profilers_attribute_time_to_every_stage(tiny_spec, tiny_onnx, backend):
    runtime = (TorchBackend(tiny_spec.build_graph()) if backend == "torch"
               else OnnxRuntimeBackend(tiny_onnx))
    images = np.zeros((1, 64, 128, 3), np.uint8)
    stages = runtime.profile(images, repeats=2)
    assert {"preprocess", "backbone", "fed", "postprocess"} <= set(stages)
    assert all(value > 0 for value in stages.values())
    assert stages["backbone"] == max(stages.values())
