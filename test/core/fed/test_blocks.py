import pytest
import torch
from torch.autograd.functional import jacobian

from flowenedet_core.fed.blocks import (
    ActNorm,
    AffineCoupling,
    FlowBlock,
    InvertibleAttention,
    InvertibleConv1x1,
)

SHAPE = (1, 2, 6, 7)
CONDITION = 3


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial parameters, so zero-initialised layers do not hide a wrong formula."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return module.eval().double()


def triangular_blocks():
    return {
        "actnorm": (randomize(ActNorm()), False),
        "coupling-even": (randomize(AffineCoupling(0, CONDITION, 3, 0.2)), True),
        "coupling-odd": (randomize(AffineCoupling(1, CONDITION, 3, 0.2)), True),
        "attention-even": (randomize(InvertibleAttention(0)), False),
        "attention-odd": (randomize(InvertibleAttention(1)), False),
    }


def call(module, z, condition, takes_condition):
    return module(z, condition) if takes_condition else module(z)


def invert(module, z, condition, takes_condition):
    return module.inverse(z, condition) if takes_condition else module.inverse(z)


@pytest.fixture
def inputs():
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(SHAPE, generator=generator, dtype=torch.float64)
    condition = torch.randn(1, CONDITION, *SHAPE[2:], generator=generator, dtype=torch.float64)
    return z, condition


@pytest.mark.parametrize("name", list(triangular_blocks()))
def test_triangular_block_inverse_undoes_forward(name, inputs):
    module, takes_condition = triangular_blocks()[name]
    z, condition = inputs
    out, _ = call(module, z, condition, takes_condition)
    assert torch.allclose(invert(module, out, condition, takes_condition), z, atol=1e-5)


@pytest.mark.parametrize("name", list(triangular_blocks()))
def test_triangular_block_log_det_per_dimension_matches_autograd(name, inputs):
    module, takes_condition = triangular_blocks()[name]
    z, condition = inputs
    _, log_det = call(module, z, condition, takes_condition)
    full = jacobian(lambda x: call(module, x, condition, takes_condition)[0], z)
    full = full.reshape(z.numel(), z.numel())
    assert torch.allclose(full.diagonal().abs().log(), log_det.reshape(-1), atol=1e-8)
    assert torch.allclose(torch.linalg.slogdet(full)[1], log_det.sum(), atol=1e-8)


def test_invertible_conv_adds_its_log_det_to_each_dimension(inputs):
    module = randomize(InvertibleConv1x1())
    z, _ = inputs
    out, log_det = module(z)
    assert torch.allclose(module.inverse(out), z, atol=1e-10)
    full = jacobian(lambda x: module(x)[0], z).reshape(z.numel(), z.numel())
    per_pixel_dims = z.shape[2] * z.shape[3]
    expected = torch.linalg.slogdet(full)[1] / per_pixel_dims
    assert torch.allclose(log_det, expected.expand_as(log_det), atol=1e-8)


@pytest.mark.parametrize("condition_channels", [0, CONDITION])
def test_flow_block_round_trips_within_1e_5(condition_channels, inputs):
    block = randomize(FlowBlock(parity=1, condition_channels=condition_channels, kernel_size=3))
    z, condition = inputs
    condition = condition if condition_channels else None
    out, _ = block(z, condition)
    assert (block.inverse(out, condition) - z).abs().max() < 1e-5


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("condition_channels", [0, CONDITION])
@pytest.mark.parametrize("separable", [False, True])
def test_flow_block_split_form_equals_masked_form(parity, condition_channels, separable, inputs):
    block = randomize(FlowBlock(parity, condition_channels, kernel_size=3, separable=separable))
    z, condition = inputs
    condition = condition if condition_channels else None
    out, log_det = block(z, condition)
    split_out, moved_log_det, constant = block.infer(z, condition)
    assert torch.allclose(split_out, out, atol=1e-12)
    moved = 1 - block.kept
    assert moved_log_det.shape == (SHAPE[0], 1, *SHAPE[2:])
    assert torch.allclose(moved_log_det + constant[moved], log_det[:, moved:moved + 1],
                          atol=1e-12)
    # the kept dimension's log-det does not depend on z
    assert torch.allclose(log_det[:, block.kept], constant[block.kept].expand(SHAPE[0], *SHAPE[2:]),
                          atol=1e-12)


def test_flow_block_split_form_refuses_training_mode(inputs):
    block = FlowBlock(0).train()
    with pytest.raises(RuntimeError, match="eval-mode"):
        block.infer(inputs[0].float())


def test_actnorm_initializes_from_first_training_batch():
    norm = ActNorm().train()
    z = torch.randn(4, 2, 8, 8) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1) + 2.0
    out, _ = norm(z)
    assert bool(norm.initialized)
    assert torch.allclose(out.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2, 3)), torch.ones(2), atol=1e-4)


@pytest.mark.parametrize("channels", [2, 8])
def test_pointwise_equals_a_1x1_convolution(channels):
    from flowenedet_core.fed.blocks import pointwise

    x = torch.randn(2, channels, 5, 7)
    weight, bias = torch.randn(3, channels, 1, 1), torch.randn(3)
    assert torch.allclose(pointwise(x, weight, bias), torch.nn.functional.conv2d(x, weight, bias),
                          atol=1e-5)
