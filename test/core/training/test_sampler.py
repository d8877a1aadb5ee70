import numpy as np
import pytest

from flowenedet_core.cityscapes_classes import IGNORE_INDEX
from flowenedet_core.errors import ConfigError
from flowenedet_core.training.sampler import (
    CropSampler,
    SamplerConfig,
    crop_window,
    draw_generator,
    scaled_to_ratio,
)


def column_frame(height: int = 64, width: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """An image and a label that both encode the column, so crops and flips can be traced."""
    columns = np.tile(np.arange(width, dtype=np.uint8) % 19, (height, 1))
    image = np.repeat(columns[..., None] * 10, 3, axis=2).astype(np.uint8)
    return image, columns.copy()


def test_keep_ratio_rescale_matches_the_reference_rule():
    assert scaled_to_ratio((1024, 2048), (512, 1024), 1.0) == (512, 1024)
    assert scaled_to_ratio((1024, 2048), (512, 1024), 2.0) == (1024, 2048)
    assert scaled_to_ratio((720, 1280), (512, 1024), 1.0) == (512, 910)


def test_resize_ratios_stay_inside_the_range():
    image, label = column_frame()
    config = SamplerConfig(input_size=(64, 128), crop_size=(256, 512), ratio_range=(0.5, 2.0),
                           cat_max_ratio=1.0, flip=False)
    sampler = CropSampler(config)
    heights = []
    for draw in range(60):
        _, crop = sampler(image, label, draw_generator(0, "frame", draw))
        assert crop.shape == (256, 512)
        heights.append(int((crop[:, 0] != IGNORE_INDEX).sum()))
    assert 32 <= min(heights) < 48 and 112 < max(heights) <= 128


def test_padding_is_black_and_void():
    image, label = column_frame(32, 64)
    config = SamplerConfig(input_size=(32, 64), crop_size=(48, 80), ratio_range=(1.0, 1.0),
                           flip=False)
    crop_image, crop_label = CropSampler(config)(image, label, draw_generator(0, "f", 0))
    assert crop_image.shape == (48, 80, 3) and crop_label.shape == (48, 80)
    assert (crop_label[32:] == IGNORE_INDEX).all() and (crop_label[:, 64:] == IGNORE_INDEX).all()
    assert not crop_image[32:].any() and not crop_image[:, 64:].any()
    np.testing.assert_array_equal(crop_label[:32, :64], label)


def test_flip_moves_image_and_label_together_about_half_the_time():
    image, label = column_frame()
    config = SamplerConfig(input_size=(64, 128), crop_size=(32, 64), ratio_range=(1.0, 1.0),
                           cat_max_ratio=1.0)
    sampler = CropSampler(config)
    flipped = 0
    for draw in range(100):
        crop_image, crop_label = sampler(image, label, draw_generator(1, "f", draw))
        np.testing.assert_array_equal(crop_image[..., 0], crop_label * 10)
        row = crop_label[0].astype(int)
        flipped += bool(((row[1:] - row[:-1]) % 19 == 18).all())
    assert 30 < flipped < 70


def test_crops_dominated_by_one_class_are_drawn_again():
    label = np.zeros((100, 100), dtype=np.uint8)
    label[:55, :50] = 1
    label[:5] = IGNORE_INDEX  # void never counts
    shares = {}
    for ratio in (0.75, 1.0):
        accepted = []
        for draw in range(200):
            top, left = crop_window(label, (50, 50), ratio, draw_generator(2, "f", draw))
            window = label[top:top + 50, left:left + 50]
            counts = np.bincount(window[window != IGNORE_INDEX].ravel(), minlength=2)
            accepted.append(counts.max() / counts.sum() < 0.75)
        shares[ratio] = np.mean(accepted)
    assert shares[0.75] > 0.9 > 0.5 > shares[1.0]


def test_draws_are_reproducible_from_seed_frame_and_index():
    image, label = column_frame()
    config = SamplerConfig(input_size=(64, 128), crop_size=(32, 64), photometric=True)
    sampler = CropSampler(config)
    first = sampler(image, label, draw_generator(0, "a", 3))
    again = sampler(image, label, draw_generator(0, "a", 3))
    other = sampler(image, label, draw_generator(0, "a", 4))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_photometric_jitter_and_corruptions_change_pixels_not_labels():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (64, 128, 3), dtype=np.uint8)
    label = rng.integers(0, 19, (64, 128), dtype=np.uint8)
    plain = SamplerConfig(input_size=(64, 128), crop_size=(64, 128), ratio_range=(1.0, 1.0),
                          flip=False, cat_max_ratio=1.0)
    changed = [SamplerConfig(**{**plain.to_dict(), "photometric": True}),
               SamplerConfig(**{**plain.to_dict(), "corruptions": ("brightness",),
                                "corruption_probability": 1.0})]
    for config in changed:
        crops = [CropSampler(config)(image, label, draw_generator(0, "f", d)) for d in range(4)]
        assert all(c[0].dtype == np.uint8 and c[0].shape == image.shape for c in crops)
        assert all((c[1] == label).all() for c in crops)
        assert any(not np.array_equal(c[0], image) for c in crops)


def test_invalid_sampler_settings_are_refused():
    with pytest.raises(ConfigError, match="ratio range"):
        SamplerConfig(input_size=(8, 8), crop_size=(8, 8), ratio_range=(2.0, 1.0))
    with pytest.raises(ConfigError, match="needs at least one corruption"):
        SamplerConfig(input_size=(8, 8), crop_size=(8, 8), corruption_probability=0.5)
    with pytest.raises(ConfigError, match="unknown corruptions"):
        CropSampler(SamplerConfig(input_size=(8, 8), crop_size=(8, 8), corruptions=("rain",),
                                  corruption_probability=0.5))
