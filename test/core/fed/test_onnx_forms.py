"""The forms an ONNX graph gets for FED's reductions and small convolution equal PyTorch's."""

import logging

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from flowenedet_core.fed import FEDConfig, FlowEneDet, SMLStatistics, blocks, onnx_forms
from flowenedet_core.fed.onnx_forms import channel_max, channel_sum, channel_top2


@pytest.fixture
def graph_forms(monkeypatch):
    """What runs while an ONNX graph is built, in eager mode."""
    monkeypatch.setattr(onnx_forms, "building_onnx_graph", lambda: True)


@pytest.mark.parametrize("channels", [1, 2, 3, 5, 20])
def test_channel_max_equals_amax(graph_forms, channels):
    x = torch.randn(2, channels, 4, 6)
    assert torch.equal(channel_max(x), x.amax(dim=1, keepdim=True))


@pytest.mark.parametrize("channels", [2, 3, 7, 20])
def test_channel_top2_equals_topk_ties_included(graph_forms, channels):
    generator = torch.Generator().manual_seed(channels)
    # few distinct values: many pixels have two or more equal maxima
    x = torch.randint(-2, 3, (3, channels, 8, 8), generator=generator).float()
    first, second = channel_top2(x)
    expected = x.topk(2, dim=1).values
    assert torch.equal(first, expected[:, :1])
    assert torch.equal(second, expected[:, 1:])
    assert (first == second).any()  # the ties were there


def test_channel_top2_refuses_a_single_channel():
    with pytest.raises(ValueError, match="top two of 1 channel"):
        channel_top2(torch.zeros(1, 1, 2, 2))


@pytest.mark.parametrize("channels", [1, 4, 19])
def test_channel_sum_equals_sum(graph_forms, channels):
    x = torch.randn(3, channels, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(channel_sum(x), x.sum(dim=1, keepdim=True))


@pytest.mark.parametrize("channels", [2, 4, 8])
def test_pointwise_equals_a_1x1_convolution(graph_forms, channels):
    x = torch.randn(2, channels, 5, 7, dtype=torch.float64)
    weight = torch.randn(3, channels, 1, 1, dtype=torch.float64)
    bias = torch.randn(3, dtype=torch.float64)
    torch.testing.assert_close(blocks.pointwise(x, weight, bias), F.conv2d(x, weight, bias))


@pytest.mark.parametrize(("channels", "separable"), [(2, False), (4, False), (6, False),
                                                     (4, True)])
def test_spatial_conv_equals_a_reflect_padded_convolution(graph_forms, channels, separable):
    reference = nn.Conv2d(channels, channels, 5, padding=2, padding_mode="reflect",
                          groups=channels if separable else 1).double()
    conv = blocks.SpatialConv(channels, 5, separable).double()
    conv.load_state_dict(reference.state_dict())  # the same parameters, the same checkpoints
    x = torch.randn(2, channels, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(conv(x), reference(x))


class Score(nn.Module):
    def __init__(self, detector: FlowEneDet) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return self.detector.score(logits, None, tuple(logits.shape[-2:]))


def test_exported_margin_fed_u_has_the_graph_forms_and_pytorch_scores():
    onnxruntime = pytest.importorskip("onnxruntime")
    classes = tuple("abcde")
    statistics = SMLStatistics(classes, (0.5,) * 5, (1.5,) * 5, (1,) * 5)
    config = FEDConfig(num_blocks=2, kernel_size=3, flow_stride=1, margin=True)
    detector = FlowEneDet(config, statistics)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in detector.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    model = Score(detector).eval()
    logits = torch.randn(1, 5, 12, 16, generator=generator) * 3
    logging.disable(logging.WARNING)  # the exporter's chatter
    try:
        program = torch.onnx.export(model, (logits,), dynamo=True, verbose=False)
    finally:
        logging.disable(logging.NOTSET)
    proto = program.model_proto
    operators = [node.op_type for node in proto.graph.node]
    assert "TopK" not in operators and "ReduceMax" not in operators
    assert operators.count("ReduceSum") == 2  # only the depthwise form's, one per block
    groups = [attribute.i for node in proto.graph.node if node.op_type == "Conv"
              for attribute in node.attribute if attribute.name == "group"]
    assert groups == [16, 16]  # 4 channels (2 latent + 2 margin) repeated 4 times
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (scores,) = session.run(None, {session.get_inputs()[0].name: logits.numpy()})
    with torch.no_grad():
        expected = model(logits).numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    onnx.checker.check_model(proto)
