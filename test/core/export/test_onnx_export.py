from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from flowenedet_core.errors import ExportError
from flowenedet_core.export.onnx_export import read_graph_info
from flowenedet_core.runtime.artifacts import export_spec
from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
from flowenedet_core.runtime.pipeline import Pipeline


def random_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 64, 128, 3), dtype=np.uint8)


def test_exported_graph_matches_pytorch(tiny_spec, tiny_onnx):
    images = random_images(3)
    with torch.no_grad():
        labels, uncertainty = tiny_spec.build_graph()(torch.from_numpy(images))
    outputs = OnnxRuntimeBackend(tiny_onnx).run(images)
    assert outputs["labels"].dtype == np.uint8 and outputs["uncertainty"].dtype == np.float32
    assert (outputs["labels"] == labels.numpy()).mean() >= 0.999
    assert np.abs(outputs["uncertainty"] - uncertainty.numpy()).max() <= 1e-3


def test_exported_graph_declares_its_interface(tiny_onnx):
    model = onnx.load(str(tiny_onnx))
    (image,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert dims == ["batch", 64, 128, 3]
    assert [o.name for o in model.graph.output] == ["labels", "uncertainty"]
    assert model.opset_import[0].version == 18
    info, stages = read_graph_info(tiny_onnx)
    assert info.image_size == (64, 128) and info.head == "fed" and len(info.class_names) == 19
    assert {"preprocess", "backbone", "fed", "postprocess"} <= set(stages.values())


def test_exported_test_time_scales_match_pytorch_through_both_pipelines(tiny_spec, tmp_path):
    spec = replace(tiny_spec, tta_scales=(1.0, 0.5))
    exported = Pipeline.create(spec, backend="onnxruntime", artifacts=tmp_path)
    eager = Pipeline.create(spec, backend="torch")
    assert exported.runtime.path.name.startswith("erfnet-fed-tta1-0.5-64x128-fp32-")
    info, stages = read_graph_info(exported.runtime.path)
    assert info.tta_scales == (1.0, 0.5)
    assert {"preprocess", "backbone", "fed", "postprocess"} == set(stages.values()) - {"other"}
    images = random_images(2, seed=2)
    outputs, expected = exported.runtime.run(images), eager.runtime.run(images)
    assert outputs["labels"].shape == outputs["uncertainty"].shape == (2, 64, 128)
    assert (outputs["labels"] == expected["labels"]).mean() >= 0.999
    assert np.abs(outputs["uncertainty"] - expected["uncertainty"]).max() <= 1e-5
    frame = np.random.default_rng(3).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    assert exported.infer(frame).uncertainty.shape == eager.infer(frame).labels.shape == (90, 160)


def test_fp16_export_keeps_uint8_in_float_out_and_agrees(tiny_spec, tiny_onnx, tmp_path):
    path = export_spec(replace(tiny_spec, precision="fp16"), tmp_path / "half.onnx")
    model = onnx.load(str(path))
    assert onnx.TensorProto.FLOAT16 in {t.data_type for t in model.graph.initializer}
    images = random_images(2, seed=1)
    half = OnnxRuntimeBackend(path).run(images)
    full = OnnxRuntimeBackend(tiny_onnx).run(images)
    assert half["uncertainty"].dtype == np.float32
    assert (half["labels"] == full["labels"]).mean() > 0.95
    assert np.abs(half["uncertainty"] - full["uncertainty"]).mean() < 0.02


def test_reading_a_foreign_onnx_file_says_so(tmp_path):
    model = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]))
    onnx.save(model, str(tmp_path / "other.onnx"))
    with pytest.raises(ExportError, match="not written by `flowenedet export`"):
        read_graph_info(tmp_path / "other.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(ExportError, match="not a readable ONNX file"):
        read_graph_info(tmp_path / "broken.onnx")
    with pytest.raises(ExportError, match="not found"):
        read_graph_info(tmp_path / "missing.onnx")


@pytest.mark.parametrize("condition_prior", [False, True])
def test_margin_conditioned_fed_u_exports_and_matches_pytorch(tiny_data, tmp_path,
                                                              condition_prior):
    from flowenedet_core.export.model_spec import ModelSpec
    from flowenedet_core.fed.detector import FEDConfig

    from conftest import random_fed_checkpoint

    fed = random_fed_checkpoint(tiny_data["weights"], tmp_path / "fed",
                                FEDConfig(variant="fed-u", num_blocks=2, margin=True,
                                          condition_prior=condition_prior))
    spec = ModelSpec("erfnet", tiny_data["weights"], (64, 128), fed=fed)
    exported = Pipeline.create(spec, backend="onnxruntime", artifacts=tmp_path / "artifacts")
    eager = Pipeline.create(spec, backend="torch")
    images = random_images(2, seed=4)
    outputs, expected = exported.runtime.run(images), eager.runtime.run(images)
    assert (outputs["labels"] == expected["labels"]).mean() >= 0.999
    assert np.abs(outputs["uncertainty"] - expected["uncertainty"]).max() <= 1e-4
