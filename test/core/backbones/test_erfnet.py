import numpy as np
import pytest
import torch

from flowenedet_core.backbones.erfnet import ERFNet, build_erfnet
from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.data.datasets import CityscapesFolder
from flowenedet_core.errors import ConfigError, WeightsError


def test_erfnet_loads_weights_saved_with_a_ddp_prefix(tiny_data):
    model = build_erfnet(tiny_data["weights"])
    reference = torch.load(tiny_data["weights"], weights_only=True)
    assert torch.equal(model.decoder.output_conv.weight,
                       reference["module.decoder.output_conv.weight"])
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_erfnet_features_are_the_classifier_input_by_default():
    output = ERFNet().eval()(torch.zeros(1, 3, 64, 128))
    assert output.logits.shape == (1, 20, 64, 128)
    assert output.features.shape == output.classifier_input.shape == (1, 16, 32, 64)


def test_erfnet_can_expose_the_quarter_resolution_decoder_features():
    output = ERFNet(feature_layer="decoder64").eval()(torch.zeros(1, 3, 64, 128))
    assert output.features.shape == (1, 64, 16, 32)
    with pytest.raises(ConfigError, match="feature_layer 'encoder'"):
        ERFNet(feature_layer="encoder")


def test_erfnet_reports_missing_keys(tmp_path):
    state = ERFNet().state_dict()
    del state["decoder.output_conv.bias"]
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"missing keys \(1\): decoder.output_conv.bias"):
        build_erfnet(path)


def test_unknown_backbone_names_the_choices():
    with pytest.raises(ConfigError, match=r"choose from .*erfnet"):
        create_backbone("resnet9000", None)


def test_real_erfnet_segments_a_cityscapes_val_frame(erfnet_weights, shared_data):
    model = build_erfnet(erfnet_weights)
    sample = CityscapesFolder("val", shared_data / "cityscapes", "val")[0]
    with torch.no_grad():
        logits = model(model.to_input(sample.image, (512, 1024))).logits[:, :19]
    logits = torch.nn.functional.interpolate(logits, size=sample.label.shape, mode="bilinear")
    prediction = logits[0].argmax(0).numpy()
    valid = sample.label != 255
    assert np.mean(prediction[valid] == sample.label[valid]) > 0.9
