"""TensorRT itself: only where it is installed and a GPU exists (skipped, with the reason,
everywhere else, including CI and these development machines)."""

import numpy as np
import pytest

trt = pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip wheels need "
                                             "NVIDIA's download host)")
torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                  reason="TensorRT needs a CUDA GPU")]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_engine_agrees_with_onnxruntime(tiny_spec, tiny_onnx, tmp_path, precision):
    from dataclasses import replace

    from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from flowenedet_core.runtime.pipeline import Pipeline

    pipeline = Pipeline.create(replace(tiny_spec, precision=precision), backend="tensorrt",
                               artifacts=tmp_path)
    images = np.random.default_rng(0).integers(0, 256, (1, 64, 128, 3), dtype=np.uint8)
    actual = pipeline.runtime.run(images)
    expected = OnnxRuntimeBackend(tiny_onnx).run(images)
    tolerance = 1e-3 if precision == "fp32" else 5e-2
    assert (actual["labels"] == expected["labels"]).mean() >= 0.99
    assert np.abs(actual["uncertainty"] - expected["uncertainty"]).max() <= tolerance
    assert list(tmp_path.glob("*.engine"))
