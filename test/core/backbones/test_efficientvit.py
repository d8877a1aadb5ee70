"""EfficientViT-Seg-B0: shapes, the official checkpoint's keys, FED on top, ONNX, real parity."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowenedet_core.backbones.efficientvit import EfficientViTSeg, build_efficientvit_b0
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES
from flowenedet_core.data.datasets import AnomalyFolder, CityscapesFolder
from flowenedet_core.errors import WeightsError
from flowenedet_core.evaluation.evaluator import evaluate
from flowenedet_core.export.graph import FEDHead
from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.fed.detector import FEDConfig, FlowEneDet
from flowenedet_core.fed.statistics import SMLStatistics
from flowenedet_core.metrics.segmentation import ConfusionMatrix
from flowenedet_core.runtime.artifacts import export_spec
from flowenedet_core.runtime.onnxruntime_backend import OnnxRuntimeBackend
from flowenedet_core.scores import resolve_scores


def official_weights(shared_data: Path) -> Path:
    path = shared_data / "efficientvit" / "cityscapes_b0.pt"
    if not path.is_file():
        pytest.skip(f"EfficientViT-Seg-B0 weights not found at {path}")
    return path


@pytest.fixture(scope="module")
def random_model() -> EfficientViTSeg:
    torch.manual_seed(0)
    return build_efficientvit_b0(None)


@pytest.fixture(scope="module")
def random_weights(random_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("efficientvit") / "random_b0.pt"
    torch.save({"state_dict": random_model.state_dict()}, path)
    return path


def test_efficientvit_b0_gives_logits_and_classifier_features_at_one_eighth(random_model):
    with torch.no_grad():
        output = random_model(torch.randn(1, 3, 64, 128))
        assert output.logits.shape == (1, 19, 8, 16)
        assert output.features.shape == (1, 128, 8, 16)
        assert output.classifier_input is output.features
        assert torch.equal(random_model.classify(output.classifier_input), output.logits)
    assert random_model.num_classes == 19 and random_model.class_names == CITYSCAPES_CLASSES
    assert random_model.preprocessing.input_size == (1024, 2048)
    assert not random_model.training
    assert not any(p.requires_grad for p in random_model.parameters())


def test_efficientvit_b0_normalises_like_imagenet_on_0_255_values(random_model):
    image = np.full((32, 64, 3), (124, 116, 104), dtype=np.uint8)
    x = random_model.to_input(image)
    assert x.shape == (1, 3, 1024, 2048)
    expected = (torch.tensor([124, 116, 104]) / 255 - torch.tensor([0.485, 0.456, 0.406])) / \
        torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(x[0, :, 0, 0], expected, atol=1e-5)


def test_efficientvit_b0_has_the_published_parameter_count(random_model):
    state = random_model.state_dict()
    assert len(state) == 230
    assert sum(tensor.numel() for tensor in state.values()) == 711_059
    assert sum(p.numel() for p in random_model.parameters()) == 706_691  # without BN statistics


def test_efficientvit_b0_runs_at_sides_not_divisible_by_32(random_model):
    with torch.no_grad():
        output = random_model(torch.randn(1, 3, 100, 180))
    assert output.logits.shape == (1, 19, 13, 23)


def test_efficientvit_b0_is_registered_and_takes_an_input_size():
    model = create_backbone("efficientvit-b0", None, input_size=(512, 1024))
    assert model.name == "efficientvit-b0" and model.preprocessing.input_size == (512, 1024)


def test_efficientvit_b0_keys_equal_the_official_checkpoints(shared_data, random_model):
    checkpoint = torch.load(official_weights(shared_data), weights_only=True)["state_dict"]
    own = random_model.state_dict()
    assert set(own) == set(checkpoint)
    assert all(own[key].shape == checkpoint[key].shape for key in own)


def test_efficientvit_b0_loads_the_official_checkpoint_strictly(shared_data):
    path = official_weights(shared_data)
    model = create_backbone("efficientvit-b0", path)
    checkpoint = torch.load(path, weights_only=True)["state_dict"]
    assert all(torch.equal(tensor, checkpoint[key])
               for key, tensor in model.state_dict().items())


def test_efficientvit_b0_reloads_its_own_state_dict(random_model, random_weights):
    model = build_efficientvit_b0(random_weights)
    assert torch.equal(model.head.output_ops[0].op_list[1].conv.weight,
                       random_model.head.output_ops[0].op_list[1].conv.weight)


def test_efficientvit_b0_rejects_a_missing_key(random_model, tmp_path):
    state = random_model.state_dict()
    del state["head.output_ops.0.op_list.1.conv.bias"]
    torch.save({"state_dict": state}, tmp_path / "partial.pt")
    with pytest.raises(WeightsError,
                       match=r"missing keys \(1\): head.output_ops.0.op_list.1.conv.bias"):
        build_efficientvit_b0(tmp_path / "partial.pt")


def test_efficientvit_b0_rejects_an_unexpected_key(random_model, tmp_path):
    state = {**random_model.state_dict(), "head.extra.weight": torch.zeros(1)}
    torch.save({"state_dict": state}, tmp_path / "extra.pt")
    with pytest.raises(WeightsError, match=r"unexpected keys \(1\): head.extra.weight"):
        build_efficientvit_b0(tmp_path / "extra.pt")


def test_efficientvit_b0_rejects_a_wrong_shape(random_model, tmp_path):
    state = {**random_model.state_dict(),
             "head.output_ops.0.op_list.1.conv.bias": torch.zeros(20)}
    torch.save({"state_dict": state}, tmp_path / "twenty.pt")
    with pytest.raises(WeightsError, match=r"shape mismatch head.output_ops.0.op_list.1.conv.bias"):
        build_efficientvit_b0(tmp_path / "twenty.pt")


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
@pytest.mark.parametrize("size", [(128, 256), (100, 180)])
def test_fed_scores_efficientvit_b0_on_its_quarter_resolution_grid(random_model, variant, size):
    count = len(CITYSCAPES_CLASSES)
    statistics = SMLStatistics(CITYSCAPES_CLASSES, (0.0,) * count, (1.0,) * count, (1,) * count)
    torch.manual_seed(1)
    detector = FlowEneDet(FEDConfig(variant=variant, num_blocks=2), statistics)
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.normal_(0, 0.3)
        backbone = build_efficientvit_b0(None, input_size=size)
        backbone.load_state_dict(random_model.state_dict())
        uncertainty = FEDHead(detector, backbone)(backbone(torch.randn(2, 3, *size)))
    assert uncertainty.shape == (2, 1, -(-size[0] // 4), -(-size[1] // 4))
    assert torch.isfinite(uncertainty).all() and uncertainty.std() > 0


def test_efficientvit_b0_with_fed_u_exports_to_onnx_and_matches_pytorch(random_model,
                                                                         tmp_path):
    # One head with all-zero queries: its attention normaliser is 0 everywhere, which must give
    # 0 in ONNX as in torch, not a NaN that the next attention spreads over the map.
    state = {key: tensor.clone() for key, tensor in random_model.state_dict().items()}
    state["backbone.stages.3.op_list.1.context_module.main.qkv.conv.weight"][:16] = 0
    weights = tmp_path / "dead_head.pt"
    torch.save({"state_dict": state}, weights)
    spec = ModelSpec("efficientvit-b0", weights, (256, 512),
                     untrained_fed=FEDConfig(variant="fed-u", num_blocks=2))
    torch.manual_seed(2)  # the untrained FED is drawn at each build: the same draw both times
    path = export_spec(spec, tmp_path / "efficientvit.onnx")
    torch.manual_seed(2)
    graph = spec.build_graph()
    images = np.random.default_rng(0).integers(0, 256, (2, 256, 512, 3), dtype=np.uint8)
    with torch.no_grad():
        labels, uncertainty = graph(torch.from_numpy(images))
    outputs = OnnxRuntimeBackend(path).run(images)
    assert (outputs["labels"] == labels.numpy()).mean() >= 0.999
    assert np.abs(outputs["uncertainty"] - uncertainty.numpy()).max() <= 1e-3


def upstream_miou(model: EfficientViTSeg, frames: CityscapesFolder) -> float:
    """mIoU as mit-han-lab's eval_efficientvit_seg_model.py computes it: logits upsampled
    bicubically to the labels, IoU averaged over every class with a non-empty union (a class
    absent from the labels but predicted somewhere counts 0)."""
    confusion = ConfusionMatrix(model.num_classes)
    for sample in frames:
        with torch.no_grad():
            logits = model(model.to_input(sample.image)).logits
        prediction = F.interpolate(logits, size=sample.label.shape, mode="bicubic",
                                   align_corners=False).argmax(1)
        confusion.update(prediction[0].numpy(), sample.label)
    hits = np.diag(confusion.matrix)
    union = confusion.matrix.sum(0) + confusion.matrix.sum(1) - hits
    return 100 * float(np.mean(hits[union > 0] / union[union > 0]))


@pytest.mark.slow
def test_real_efficientvit_b0_reproduces_the_reference_miou_and_msp(shared_data):
    """The reference (../shared/data/README.md, upstream model code): mIoU 68.57 on the 10 val
    frames, which is upstream's convention (bicubic logits, all 19 classes: `wall` is absent
    from these labels but predicted, so it counts 0); the project's evaluator (bilinear logits,
    the 18 classes present) gives 72.06 on the same logits. MSP on RoadAnomaly21 pooled at
    1024x2048: AP 27.88, FPR95 91.51."""
    model = build_efficientvit_b0(official_weights(shared_data))
    frames = CityscapesFolder("cityscapes-val", shared_data / "cityscapes", "val")
    road_anomaly = AnomalyFolder("RoadAnomaly21", shared_data / "anomaly" / "RoadAnomaly21")
    cityscapes, anomalies = evaluate(model, [frames, road_anomaly], resolve_scores("msp"),
                                     progress=False)
    assert cityscapes.images == 10 and abs(cityscapes.miou - 72.06) < 0.5
    assert abs(upstream_miou(model, frames) - 68.57) < 0.5
    msp = anomalies.metrics["msp"]
    assert abs(msp.ap - 27.88) < 1.0 and abs(msp.fpr95 - 91.51) < 1.0
