import torch

from flowenedet_core.backbones.registry import create_backbone
from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.training.cache import (
    MISCLASSIFIED,
    VOID,
    CacheEntry,
    CacheSpec,
    build_cache,
    outcome_shares,
)
from flowenedet_core.training.sampler import SamplerConfig


def sampled_spec(**sampler) -> CacheSpec:
    config = SamplerConfig(input_size=(64, 128), crop_size=(32, 64), **sampler)
    return CacheSpec("erfnet", None, 16, (64, 128), 4, 16, sampler=config, draws=3)


def test_sampled_cache_holds_draws_per_frame_and_reloads_them(tiny_data, tmp_path):
    backbone = create_backbone("erfnet", tiny_data["weights"], input_size=(64, 128))
    dataset = parse_data_spec(f"cityscapes:{tiny_data['cityscapes']}:train")
    spec = sampled_spec()
    entries = build_cache(backbone, dataset, spec, tmp_path, progress=False)
    assert len(entries) == 3 * len(dataset)
    first = entries[0]
    assert first.logits.shape == (19, 8, 16) and first.logits.dtype == torch.float16
    assert first.condition.shape == (16, 8, 16) and first.target.shape == (32, 64)
    assert first.statistics.shape == (3, 19)
    again = build_cache(backbone, dataset, spec, tmp_path, progress=False)
    for cached, fresh in zip(again, entries, strict=True):
        assert torch.equal(cached.logits, fresh.logits)
        assert torch.equal(cached.target, fresh.target)
    assert len(list(tmp_path.iterdir())) == 1
    build_cache(backbone, dataset, sampled_spec(ratio_range=(1.0, 1.0)), tmp_path,
                progress=False)
    assert len(list(tmp_path.iterdir())) == 2  # other sampler settings, other key


def test_outcome_shares_count_real_errors_among_positives():
    target = torch.tensor([0, 0, 0, 0, 0, 0, MISCLASSIFIED, VOID, VOID, VOID], dtype=torch.uint8)
    shares = outcome_shares([CacheEntry(torch.zeros(1, 1, 1), None, target)])
    assert abs(shares["misclassified_of_labelled"] - 1 / 7) < 1e-9
    assert abs(shares["misclassified_of_positives"] - 1 / 4) < 1e-9
    assert abs(shares["void_of_all"] - 0.3) < 1e-9
