import pytest
import torch

from flowenedet_core.backbones.deeplabv3plus import DeepLabV3Plus, build_deeplabv3plus
from flowenedet_core.errors import WeightsError

# Key names and shapes of an MMSegmentation deeplabv3plus_r101-d8 Cityscapes checkpoint.
MMSEG_KEYS = {
    "backbone.stem.0.weight": (32, 3, 3, 3),
    "backbone.stem.3.weight": (32, 32, 3, 3),
    "backbone.stem.7.running_var": (64,),
    "backbone.layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "backbone.layer3.22.conv2.weight": (256, 256, 3, 3),
    "backbone.layer4.2.bn3.weight": (2048,),
    "decode_head.image_pool.1.conv.weight": (512, 2048, 1, 1),
    "decode_head.aspp_modules.0.conv.weight": (512, 2048, 1, 1),
    "decode_head.aspp_modules.3.depthwise_conv.conv.weight": (2048, 1, 3, 3),
    "decode_head.aspp_modules.3.pointwise_conv.bn.bias": (512,),
    "decode_head.bottleneck.conv.weight": (512, 2560, 3, 3),
    "decode_head.c1_bottleneck.conv.weight": (48, 256, 1, 1),
    "decode_head.sep_bottleneck.0.depthwise_conv.conv.weight": (560, 1, 3, 3),
    "decode_head.sep_bottleneck.1.pointwise_conv.conv.weight": (512, 512, 1, 1),
    "decode_head.conv_seg.weight": (19, 512, 1, 1),
    "decode_head.conv_seg.bias": (19,),
}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return DeepLabV3Plus().eval()


def test_parameter_names_follow_mmsegmentation(model):
    state = model.state_dict()
    for key, shape in MMSEG_KEYS.items():
        assert tuple(state[key].shape) == shape, key


def test_dilated_layers_contract_the_first_dilation(model):
    assert model.backbone.layer3[0].conv2.dilation == (1, 1)
    assert model.backbone.layer3[1].conv2.dilation == (2, 2)
    assert model.backbone.layer4[0].conv2.dilation == (2, 2)
    assert model.backbone.layer4[1].conv2.dilation == (4, 4)


def test_mmseg_checkpoint_loads_and_ignores_the_auxiliary_head(model, tmp_path, caplog):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["auxiliary_head.conv_seg.weight"] = torch.zeros(19, 256, 1, 1)
    state["decode_head.extra_buffer"] = torch.zeros(1)
    path = tmp_path / "mmseg.pth"
    torch.save({"meta": {"CLASSES": ["road"], "epoch": 80}, "state_dict": state}, path)
    loaded = build_deeplabv3plus(path)
    assert torch.equal(loaded.decode_head.conv_seg.weight, model.decode_head.conv_seg.weight)
    assert "unexpected keys (1): decode_head.extra_buffer" in caplog.text
    x = torch.randn(1, 3, 64, 64)
    output = loaded(x)
    assert output.logits.shape == (1, 19, 16, 16) and output.features.shape == (1, 512, 16, 16)


def test_checkpoint_with_wrong_shapes_is_refused(model, tmp_path):
    state = dict(model.state_dict())
    state["decode_head.conv_seg.weight"] = torch.zeros(8, 512, 1, 1)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError, match=r"shape mismatch decode_head\.conv_seg\.weight"):
        build_deeplabv3plus(path)
