import torch

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.training.cache import CORRECT, MISCLASSIFIED, VOID, CacheEntry
from flowenedet_core.training.trainer import random_crop, training_target


def test_void_pixels_are_positive_or_ignored():
    outcome = torch.tensor([CORRECT, MISCLASSIFIED, VOID], dtype=torch.uint8)
    assert training_target(outcome, void_positive=True).tolist() == [0, 1, 1]
    assert training_target(outcome, void_positive=False).tolist() == [0, 1, IGNORE_INDEX]


def test_random_crop_keeps_flow_grid_and_target_aligned():
    # one class whose logit is minus the cell index: z1 = log sigmoid(-E) is about -index
    grid = -torch.arange(8 * 16, dtype=torch.float16).view(1, 8, 16)
    target = torch.zeros(32, 64, dtype=torch.uint8)
    target[12:16, 20:24] = MISCLASSIFIED  # exactly grid cell (3, 5) at stride 4
    entry = CacheEntry(logits=grid, condition=grid.abs(), target=target)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        crop = random_crop(entry, (16, 32), stride=4, flip=True, generator=generator)
        assert crop.z.shape == (1, 2, 4, 8) and crop.target.shape == (1, 16, 32)
        assert crop.condition.shape == (1, 1, 4, 8)
        cells = (crop.condition[0, 0] == 3 * 16 + 5).nonzero()
        if len(cells):
            row, column = cells[0].tolist()
            assert crop.target[0, 4 * row:4 * row + 4, 4 * column:4 * column + 4].all()
        else:
            assert not crop.target.any()


def test_crop_larger_than_entry_takes_the_whole_map():
    entry = CacheEntry(torch.zeros(19, 4, 4), None, torch.zeros(16, 16, dtype=torch.uint8))
    crop = random_crop(entry, (512, 1024), 4, False, torch.Generator().manual_seed(0))
    assert crop.z.shape == (1, 2, 4, 4) and crop.condition is None


def test_crop_energy_is_that_of_the_standardised_logits():
    from flowenedet_core.fed.energy import energy_input

    logits = torch.randn(3, 4, 4).half()
    mean, std = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, 2.0])
    entry = CacheEntry(logits, None, torch.zeros(16, 16, dtype=torch.uint8))
    statistics = (mean.view(1, 3, 1, 1), std.view(1, 3, 1, 1))
    crop = random_crop(entry, (16, 16), 4, False, torch.Generator(), statistics=statistics)
    expected = energy_input((logits.float()[None] - statistics[0]) / statistics[1])
    torch.testing.assert_close(crop.z, expected)


def test_crop_of_only_ignored_pixels_has_zero_loss_not_nan():
    from flowenedet_core.fed import FEDConfig, FlowEneDet, SMLStatistics
    from flowenedet_core.training.trainer import Crop, crop_loss

    statistics = SMLStatistics(("a", "b"), (0.0, 0.0), (1.0, 1.0), (1, 1))
    model = FlowEneDet(FEDConfig(num_blocks=1, flow_stride=1), statistics)
    crop = Crop(torch.randn(1, 2, 4, 4), None, torch.full((1, 4, 4), IGNORE_INDEX))
    loss = crop_loss(model, crop, torch.device("cpu"))
    assert loss.item() == 0.0
    loss.backward()


def test_pasted_outliers_are_positive_and_weigh_their_own_weight():
    from flowenedet_core.fed import FEDConfig, FlowEneDet, SMLStatistics
    from flowenedet_core.training.cache import OUTLIER
    from flowenedet_core.training.trainer import crop_loss

    target = torch.zeros(8, 8, dtype=torch.uint8)
    target[:2] = OUTLIER
    target[2, :4] = MISCLASSIFIED
    assert training_target(target, True)[:3].sum().item() == 16 + 4
    entry = CacheEntry(torch.randn(3, 2, 2).half(), None, target)
    plain = random_crop(entry, (8, 8), 4, False, torch.Generator())
    weighted = random_crop(entry, (8, 8), 4, False, torch.Generator(), outlier_weight=4.0)
    assert plain.weight is None and weighted.weight[0, :2].eq(4).all()
    assert weighted.weight[0, 2:].eq(1).all()
    statistics = SMLStatistics(("a", "b", "c"), (0.0,) * 3, (1.0,) * 3, (1,) * 3)
    model = FlowEneDet(FEDConfig(num_blocks=1, kernel_size=1, flow_stride=4), statistics).eval()
    logits = torch.nn.functional.interpolate(model(plain.z), size=(8, 8), mode="bilinear")
    losses = torch.nn.functional.cross_entropy(logits, plain.target, reduction="none")[0]
    weights = torch.where(target == OUTLIER, 4.0, 1.0)
    expected = (losses * weights).sum() / weights.sum()
    torch.testing.assert_close(crop_loss(model, weighted, torch.device("cpu")), expected)
    torch.testing.assert_close(crop_loss(model, plain, torch.device("cpu")), losses.mean())


def test_margin_condition_comes_from_the_raw_cropped_logits():
    from flowenedet_core.fed.energy import margin_input

    logits = torch.randn(4, 4, 8).half()
    condition = torch.randn(2, 4, 8).half()
    entry = CacheEntry(logits, condition, torch.zeros(16, 32, dtype=torch.uint8))
    statistics = (torch.full((1, 4, 1, 1), 3.0), torch.full((1, 4, 1, 1), 2.0))
    crop = random_crop(entry, (16, 32), 4, False, torch.Generator(), statistics=statistics,
                       features=False, margin=True)
    torch.testing.assert_close(crop.condition, margin_input(logits.float()[None]))
    both = random_crop(entry, (16, 32), 4, False, torch.Generator(), margin=True)
    assert both.condition.shape == (1, 4, 4, 8)
    torch.testing.assert_close(both.condition[:, :2], condition.float()[None])
