from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowenedet_core.backbones.base import upsample_to
from flowenedet_core.checkpoint import load_checkpoint
from flowenedet_core.errors import ConfigError
from flowenedet_core.export.graph import UNIT_INTERVAL_MAPS, BaselineHead, Resize
from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.scores import SCORES, ScoreInputs, fed_score


def random_images(count: int, size=(64, 128), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *size, 3), dtype=np.uint8)


@torch.no_grad()
def test_graph_computes_what_evaluation_computes(tiny_spec, tiny_fed):
    graph = tiny_spec.build_graph()
    images = random_images(2)
    labels, uncertainty = graph(torch.from_numpy(images))
    backbone = graph.backbone
    output = backbone(backbone.to_input(list(images), (64, 128)))
    logits = upsample_to(output.logits, (64, 128))
    detector = load_checkpoint(tiny_fed).detector
    inputs = ScoreInputs(logits, backbone.num_classes, output, backbone, (64, 128))
    expected = fed_score("fed", detector).function(inputs)
    assert labels.dtype == torch.uint8 and uncertainty.dtype == torch.float32
    assert torch.equal(labels.long(), logits[:, :19].argmax(1))
    assert torch.allclose(uncertainty, expected, atol=1e-5)


@pytest.mark.parametrize("score", sorted(UNIT_INTERVAL_MAPS))
@torch.no_grad()
def test_baseline_heads_stay_in_the_unit_interval_and_keep_the_ranking(tiny_data, score,
                                                                       tmp_path):
    stats = None
    if SCORES[score].needs_statistics:
        stats = tmp_path / "stats.json"
        from flowenedet_core.cityscapes_classes import CITYSCAPES_CLASSES
        from flowenedet_core.fed.statistics import SMLStatistics

        SMLStatistics(CITYSCAPES_CLASSES, (3.0,) * 19, (2.0,) * 19, (1,) * 19).save(stats)
    graph = ModelSpec("erfnet", tiny_data["weights"], (64, 128), score=score,
                      stats=stats).build_graph()
    _, uncertainty = graph(torch.from_numpy(random_images(1)))
    assert float(uncertainty.min()) >= 0 and float(uncertainty.max()) <= 1
    (image,) = graph.preprocess(torch.from_numpy(random_images(1)))
    output = graph.backbone(image)
    raw = SCORES[score].function(ScoreInputs(output.logits, 19, output, None, (64, 128),
                                             graph.head.statistics))
    mapped = graph.head(output)[:, 0]
    order = torch.argsort(raw.flatten())
    assert torch.all(torch.diff(mapped.flatten()[order]) >= -1e-6)


def test_mc_dropout_cannot_be_part_of_a_graph(tiny_data):
    from flowenedet_core.backbones.registry import create_backbone

    backbone = create_backbone("erfnet", tiny_data["weights"])
    with pytest.raises(ConfigError, match="cannot be part of an exported graph"):
        BaselineHead("mcdropout", backbone)


@torch.no_grad()
def test_backbone_only_graph_outputs_labels_only(tiny_spec):
    graph = tiny_spec.backbone_only().build_graph()
    outputs = graph(torch.from_numpy(random_images(1)))
    assert graph.output_names == ("labels",) and len(outputs) == 1


def test_fingerprint_follows_the_checkpoint_bytes(tiny_spec, tiny_fed, tmp_path):
    import shutil

    copy = tmp_path / "fed"
    shutil.copytree(tiny_fed, copy)
    same = ModelSpec(tiny_spec.backbone, tiny_spec.weights, tiny_spec.size, fed=copy)
    assert same.fingerprint() == tiny_spec.fingerprint()
    (copy / "fed.json").write_text((copy / "fed.json").read_text() + " ")
    assert same.fingerprint() != tiny_spec.fingerprint()


@torch.no_grad()
def test_test_time_scales_average_the_uncertainty_and_keep_scale_one_labels(tiny_spec):
    images = torch.from_numpy(random_images(2))
    labels, uncertainty = tiny_spec.build_graph()(images)
    graph = replace(tiny_spec, tta_scales=(0.5, 1.0, 0.25)).build_graph()
    tta_labels, tta_uncertainty = graph(images)
    assert graph.input_sizes == [(64, 128), (32, 64), (32, 32)]
    assert tta_labels.shape == tta_uncertainty.shape == (2, 64, 128)
    assert torch.equal(tta_labels, labels)
    assert not torch.equal(tta_uncertainty, uncertainty)
    assert float(tta_uncertainty.min()) >= 0 and float(tta_uncertainty.max()) <= 1


@torch.no_grad()
def test_scale_one_alone_is_exactly_the_single_scale_graph(tiny_spec):
    images = torch.from_numpy(random_images(1, seed=3))
    graph = tiny_spec.build_graph()
    single = replace(tiny_spec, tta_scales=(1.0,)).build_graph()
    assert single.tta_scales == (1.0,) and len(single.preprocess.resizes) == 0
    for expected, actual in zip(graph(images), single(images), strict=True):
        assert torch.equal(expected, actual)


def test_in_graph_resize_is_torchs_antialiased_bilinear_resize():
    x = torch.rand(2, 3, 100, 180)
    for size in ((32, 96), (64, 64), (160, 256)):
        expected = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                                 antialias=True)
        assert torch.allclose(Resize((100, 180), size)(x), expected, atol=1e-5)


def test_labels_only_graph_refuses_test_time_scales(tiny_data):
    from flowenedet_core.backbones.registry import create_backbone
    from flowenedet_core.export.graph import InferenceGraph

    backbone = create_backbone("erfnet", tiny_data["weights"], input_size=(64, 128))
    with pytest.raises(ConfigError, match="a labels-only graph has none"):
        InferenceGraph(backbone, None, tta_scales=(1.0, 0.5))


def test_test_time_scales_are_part_of_the_fingerprint_and_file_name(tiny_spec):
    tta = replace(tiny_spec, tta_scales=(0.25, 1, 0.5))
    assert tta.tta_scales == (1.0, 0.5, 0.25)
    assert tta.fingerprint() != tiny_spec.fingerprint()
    assert tta.artifact_stem("f").startswith("erfnet-fed-tta1-0.5-0.25-64x128-fp32-")
    assert tta.backbone_only().tta_scales == (1.0,)
    with pytest.raises(ConfigError, match=r"with 1\.0 among them"):
        replace(tiny_spec, tta_scales=(0.5,))
