import copy

import pytest
import torch
from torch.autograd.functional import jacobian

from flowenedet_core.errors import ConfigError
from flowenedet_core.fed import FEDConfig, FlowEneDet, SMLStatistics
from flowenedet_core.fed.energy import energy_input

CLASSES = ("a", "b", "c")


def statistics() -> SMLStatistics:
    return SMLStatistics(CLASSES, (1.0, 2.0, 0.5), (0.7, 1.5, 1.0), (10, 10, 10))


def detector(variant: str, full_covariance: bool = True, blocks: int = 3) -> FlowEneDet:
    config = FEDConfig(variant=variant, num_blocks=blocks, kernel_size=3, condition_groups=4,
                       full_covariance=full_covariance, flow_stride=1)
    model = FlowEneDet(config, statistics())
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    return model.eval().double()


def sample(variant: str):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 6, generator=generator, dtype=torch.float64) * 3
    features = torch.randn(2, 8, 6, 6, generator=generator, dtype=torch.float64)
    return logits, (features if variant == "fed-c" else None)


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
def test_flow_inverse_recovers_energy_input_within_1e_5(variant):
    model = detector(variant, blocks=8)
    logits, features = sample(variant)
    z, condition = model.flow_inputs(logits, features, (6, 6))
    u, _ = model.transform(z.double(), None if condition is None else condition.double())
    recovered = model.inverse(u, None if condition is None else condition.double())
    assert (recovered - z).abs().max() < 1e-5


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
def test_eval_transform_is_the_masked_blocks_summed(variant):
    model = detector(variant, blocks=5)
    logits, features = sample(variant)
    z, condition = (None if x is None else x.double()
                    for x in model.flow_inputs(logits, features, (6, 6)))
    u, log_det = model.transform(z, condition)
    masked, masked_log_det = z, torch.zeros_like(z)
    for block in model.blocks:
        masked, step = block(masked, condition)
        masked_log_det = masked_log_det + step
    assert torch.allclose(u, masked, atol=1e-12)
    assert torch.allclose(log_det, masked_log_det, atol=1e-12)


def test_flow_total_log_det_matches_autograd_jacobian():
    model = detector("fed-u")
    z = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    _, log_det = model.transform(z)
    full = jacobian(lambda x: model.transform(x)[0], z).reshape(z.numel(), z.numel())
    # Every 1x1 convolution adds log|det W| to both dimensions: count it once for the total.
    mixing = sum(torch.linalg.slogdet(b.mixing.weight)[1] for b in model.blocks)
    pixels = z.shape[2] * z.shape[3]
    assert torch.allclose(torch.linalg.slogdet(full)[1], log_det.sum() - mixing * pixels,
                          atol=1e-7)


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
@pytest.mark.parametrize("full_covariance", [True, False])
def test_class_probabilities_sum_to_one(variant, full_covariance):
    model = detector(variant, full_covariance)
    logits, features = sample(variant)
    class_logits = model(*model.flow_inputs(logits, features, (6, 6)))
    probabilities = torch.softmax(class_logits, dim=1)
    assert torch.allclose(probabilities.sum(1), torch.ones_like(probabilities[:, 0]))
    with torch.no_grad():
        score = model.score(logits, features, (6, 6))
    assert score.shape == (2, 6, 6) and float(score.min()) >= 0 and float(score.max()) <= 1



def test_fresh_detector_starts_at_even_odds():
    model = FlowEneDet(FEDConfig(num_blocks=2, flow_stride=1), statistics()).eval()
    z = torch.zeros(1, 2, 4, 4)
    # Zero-initialised base: beta = 1/2, U = I, mu = 0; the two logits differ only by the flow.
    assert torch.allclose(model.base.prior, torch.zeros(2))
    assert model(z).shape == (1, 2, 4, 4)


def test_energy_input_is_log_sigmoid_pair():
    logits = torch.tensor([[[[2.0]], [[-1.0]]]])
    negative_energy = torch.logsumexp(logits, 1)
    z = energy_input(logits)
    assert torch.allclose(z[:, 0], torch.log(torch.sigmoid(negative_energy)))
    assert torch.allclose(z[:, 1], torch.log(1 - torch.sigmoid(negative_energy) + 1e-6))


def test_fed_c_rejects_groups_that_do_not_divide_features():
    model = FlowEneDet(FEDConfig(variant="fed-c", condition_groups=3, flow_stride=1),
                       statistics())
    with pytest.raises(ConfigError, match="cannot be split into 3 groups"):
        model.flow_inputs(torch.zeros(1, 3, 4, 4), torch.zeros(1, 8, 4, 4), (4, 4))


def test_config_rejects_even_kernel():
    with pytest.raises(ConfigError, match="kernel_size must be odd"):
        FEDConfig(kernel_size=4)


def test_margin_input_is_the_top_two_gap_and_log_msp():
    from flowenedet_core.fed.energy import margin_input

    logits = torch.tensor([3.0, 1.0, -2.0, 0.5]).view(1, 4, 1, 1)
    margin = margin_input(logits)
    assert margin.shape == (1, 2, 1, 1)
    assert margin[0, 0].item() == pytest.approx(torch.log1p(torch.tensor(2.0)).item())
    assert margin[0, 1].item() == pytest.approx(torch.log_softmax(logits, 1).max().item())


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
def test_margin_adds_two_condition_channels_after_the_features(variant):
    config = FEDConfig(variant=variant, num_blocks=2, kernel_size=3, condition_groups=4,
                       flow_stride=1, margin=True)
    assert config.condition_channels == (6 if variant == "fed-c" else 2)
    model = FlowEneDet(config, statistics()).eval().double()
    logits, features = sample(variant)
    _, condition = model.flow_inputs(logits, features, (6, 6))
    assert condition.shape == (2, config.condition_channels, 6, 6)
    from flowenedet_core.fed.energy import margin_input

    torch.testing.assert_close(condition[:, -2:], margin_input(logits[:, :3].float()))
    assert model.score(logits, features, (6, 6)).shape == (2, 6, 6)


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
def test_condition_prior_adds_its_linear_odds_to_the_flow_s_and_starts_at_zero(variant):
    config = FEDConfig(variant=variant, num_blocks=2, kernel_size=3, condition_groups=4,
                       flow_stride=1, margin=True, condition_prior=True)
    model = FlowEneDet(config, statistics()).train()
    logits, features = sample(variant)
    z, condition = model.flow_inputs(logits.float(), None if features is None
                                     else features.float(), (6, 6))
    model.initialize([(z[:1], condition[:1]), (z[1:], condition[1:])])
    pixels = condition.transpose(0, 1).reshape(condition.shape[1], -1)
    prior = model.condition_prior
    torch.testing.assert_close(prior.mean.flatten(), pixels.mean(1))
    torch.testing.assert_close(prior.std.flatten(), pixels.std(1) + 1e-6)
    model = model.eval().double()
    with_prior = model.score(logits, features, (6, 6))
    model.condition_prior = None
    without = model.score(logits, features, (6, 6))
    torch.testing.assert_close(with_prior, without)  # zero weights: the constant prior
    model.condition_prior = prior
    with torch.no_grad():
        weights = torch.linspace(-1, 1, config.condition_channels)
        prior.linear.weight.copy_(weights.view(1, -1, 1, 1))
        prior.linear.bias.fill_(0.5)
    odds = torch.logit(model.score(logits, features, (6, 6))) - torch.logit(without)
    expected = (prior.linear.weight.flatten().view(1, -1, 1, 1)
                * (condition.double() - prior.mean) / prior.std).sum(1) + 0.5
    torch.testing.assert_close(odds, expected)


def test_condition_prior_needs_a_condition():
    with pytest.raises(ConfigError, match="condition_prior needs a condition"):
        FEDConfig(variant="fed-u", condition_prior=True)


def fresh_detector(variant: str) -> FlowEneDet:
    config = FEDConfig(variant=variant, num_blocks=3, kernel_size=3, condition_groups=4)
    return FlowEneDet(config, statistics()).train()


def crops_of_two_sizes(variant: str) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    generator = torch.Generator().manual_seed(5)
    crops = []
    for size, offset in (((6, 10), 3.0), ((9, 4), -1.0)):
        z = torch.randn(1, 2, *size, generator=generator) * 2 + offset
        condition = torch.randn(1, 4, *size, generator=generator) if variant == "fed-c" else None
        crops.append((z, condition))
    return crops


def pooled(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.transpose(0, 1).reshape(2, -1) for t in tensors], dim=1)


@pytest.mark.parametrize("variant", ["fed-u", "fed-c"])
def test_actnorms_initialise_from_every_crop_pooled_block_by_block(variant):
    model = fresh_detector(variant)
    crops = crops_of_two_sizes(variant)
    model.initialize(crops)
    inputs = [z for z, _ in crops]
    for block in model.blocks:
        assert bool(block.actnorm.initialized)
        normalised = pooled([block.actnorm(z)[0] for z in inputs])
        assert torch.allclose(normalised.mean(dim=1), torch.zeros(2), atol=1e-5)
        assert torch.allclose(normalised.std(dim=1), torch.ones(2), atol=1e-4)
        inputs = [block(z, condition)[0] for z, (_, condition) in zip(inputs, crops, strict=True)]


def test_initialising_from_one_crop_is_the_first_training_forward():
    crop = crops_of_two_sizes("fed-c")[0]
    initialised = fresh_detector("fed-c")
    forward = copy.deepcopy(initialised)
    initialised.initialize([crop])
    forward(*crop)
    for (name, mine), theirs in zip(initialised.state_dict().items(),
                                    forward.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs), name
