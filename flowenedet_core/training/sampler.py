"""The reference's training crops, drawn in image space so the frozen backbone sees each crop.

FED learns from the errors the backbone makes on what it is shown, so the augmentation decides
which errors those are. Each draw (MMSegmentation's Cityscapes pipeline, as the FlowEneDet
reference trains): resize the frame to a random ratio of the input size, keeping its aspect;
random crop, re-drawn (up to 10 times) while one class covers more than `cat_max_ratio` of the
crop's labelled pixels; horizontal flip; optional photometric jitter and `imagecorruptions`
corruptions (covariate shift); pad to the crop size with black pixels and void labels. The
backbone then runs on the padded crop, and padding counts as void (m* = 1 when void is positive).
With a `PasteConfig`, cut-outs are pasted into the crop before the jitter (outlier exposure,
`data/paste.py`): outlier pixels are labelled OUTLIER_LABEL, control pastes by their class.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..cityscapes_classes import IGNORE_INDEX
from ..data.datasets import LabelledFolder
from ..data.paste import ObjectPaster, PasteConfig, horizon_row
from ..data.transforms import resize_image, resize_label
from ..errors import ConfigError, DataError

CROP_ATTEMPTS = 10  # MMSegmentation's RandomCrop re-draws at most this often


@dataclass(frozen=True)
class SamplerConfig:
    """One training-crop distribution; every field is part of the training cache key."""

    input_size: tuple[int, int]  # (height, width) of ratio 1.0: the backbone's test size
    crop_size: tuple[int, int]  # (height, width) of every crop (padded when the image is smaller)
    ratio_range: tuple[float, float] = (0.5, 2.0)  # resize ratio of input_size, drawn uniformly
    cat_max_ratio: float = 0.75  # re-draw crops where one class covers more (1.0: never)
    flip: bool = True  # horizontal flip with probability 0.5
    photometric: bool = False  # MMSegmentation's PhotoMetricDistortion
    corruptions: tuple[str, ...] = ()  # `imagecorruptions` names applied to some crops
    severities: tuple[int, ...] = (1, 2, 3)  # drawn uniformly per corrupted crop
    corruption_probability: float = 0.0  # share of crops corrupted (needs `corruptions`)
    paste: PasteConfig | None = None  # outlier exposure: cut-outs pasted into every crop

    def __post_init__(self) -> None:
        low, high = self.ratio_range
        if not 0 < low <= high:
            raise ConfigError(f"ratio range must satisfy 0 < low <= high, got {self.ratio_range}")
        if min(self.crop_size) < 1 or min(self.input_size) < 1:
            raise ConfigError("crop and input sizes must be positive")
        if not 0 < self.cat_max_ratio <= 1:
            raise ConfigError(f"cat_max_ratio must be in (0, 1], got {self.cat_max_ratio}")
        if not 0 <= self.corruption_probability <= 1:
            raise ConfigError("corruption_probability must be in [0, 1]")
        if self.corruption_probability > 0 and not self.corruptions:
            raise ConfigError("corruption_probability > 0 needs at least one corruption")
        if any(not 1 <= s <= 5 for s in self.severities) or not self.severities:
            raise ConfigError(f"severities must be 1-5, got {self.severities}")

    def to_dict(self) -> dict:
        return asdict(self)


def scaled_to_ratio(image_size: tuple[int, int], target: tuple[int, int],
                    ratio: float) -> tuple[int, int]:
    """MMSegmentation's keep-ratio rescale: the largest size of the image's aspect that fits
    in target * ratio (long side against the long side, short against the short)."""
    long_edge, short_edge = max(target) * ratio, min(target) * ratio
    height, width = image_size
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return max(1, int(height * factor + 0.5)), max(1, int(width * factor + 0.5))


def crop_window(label: np.ndarray, crop_size: tuple[int, int], cat_max_ratio: float,
                rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a random crop; re-drawn while one class dominates the labelled pixels."""
    height, width = label.shape
    max_top, max_left = max(height - crop_size[0], 0), max(width - crop_size[1], 0)
    for _ in range(CROP_ATTEMPTS):
        top, left = int(rng.integers(0, max_top + 1)), int(rng.integers(0, max_left + 1))
        if cat_max_ratio >= 1:
            break
        window = label[top:top + crop_size[0], left:left + crop_size[1]]
        counts = np.bincount(window[window != IGNORE_INDEX].ravel(), minlength=1)
        counts = counts[counts > 0]
        if len(counts) > 1 and counts.max() / counts.sum() < cat_max_ratio:
            break
    return top, left


def photometric_distortion(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MMSegmentation's PhotoMetricDistortion: brightness +-32, contrast and saturation x0.5-1.5,
    hue +-18 degrees, each with probability 0.5; contrast before or after the HSV changes."""
    out = image.astype(np.float32)
    if rng.random() < 0.5:
        out += rng.uniform(-32, 32)
    contrast_first = rng.random() < 0.5
    contrast = rng.uniform(0.5, 1.5) if rng.random() < 0.5 else None
    if contrast is not None and contrast_first:
        out *= contrast
    saturate, hue = rng.random() < 0.5, rng.random() < 0.5
    if saturate or hue:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        hsv = hsv.astype(np.float32)
        if saturate:
            hsv[..., 1] *= rng.uniform(0.5, 1.5)
        if hue:  # OpenCV's uint8 hue runs 0..180 (2 degrees a step)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-18, 18) / 2) % 180
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
        out = out.astype(np.float32)
    if contrast is not None and not contrast_first:
        out *= contrast
    return np.clip(out, 0, 255).astype(np.uint8)


def corrupt_image(image: np.ndarray, corruption: str, severity: int,
                  rng: np.random.Generator) -> np.ndarray:
    """One `imagecorruptions` corruption, seeded from `rng` (the library draws from numpy's
    global generator, which is saved and restored around the call)."""
    try:
        from imagecorruptions import corrupt
    except ImportError as error:
        raise DataError("corruptions need `pip install imagecorruptions-imaug`") from error
    state = np.random.get_state()
    np.random.seed(int(rng.integers(0, 2 ** 31)))
    try:
        corrupted = corrupt(image, corruption_name=corruption, severity=severity)
    finally:
        np.random.set_state(state)
    return np.asarray(corrupted, dtype=np.uint8)[:image.shape[0], :image.shape[1]]


class CropSampler:
    """Draws (image crop, label crop) pairs of `config.crop_size` from a labelled frame."""

    def __init__(self, config: SamplerConfig, dataset: LabelledFolder | None = None) -> None:
        """`dataset`: the training frames, where paste controls are cut from."""
        self.config = config
        self.paster = ObjectPaster(config.paste, dataset) if config.paste else None
        if config.corruptions:
            from ..data.corruptions import corruption_names

            unknown = sorted(set(config.corruptions) - set(corruption_names()))
            if unknown:
                raise ConfigError(f"unknown corruptions {unknown}; choose from "
                                  f"{', '.join(corruption_names())}")

    def __call__(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        ratio = rng.uniform(*config.ratio_range)
        size = scaled_to_ratio(image.shape[:2], config.input_size, ratio)
        image, label = resize_image(image, size), resize_label(label, size)
        top, left = crop_window(label, config.crop_size, config.cat_max_ratio, rng)
        bottom, right = top + config.crop_size[0], left + config.crop_size[1]
        frame_size, horizon = label.shape, horizon_row(label)
        image, label = image[top:bottom, left:right], label[top:bottom, left:right]
        if self.paster:
            image, label = image.copy(), label.copy()
            self.paster(image, label, frame_size, (top, left), horizon, rng)
        if config.flip and rng.random() < 0.5:
            image, label = image[:, ::-1], label[:, ::-1]
        if config.photometric:
            image = photometric_distortion(image, rng)
        if config.corruption_probability and rng.random() < config.corruption_probability:
            corruption = config.corruptions[int(rng.integers(len(config.corruptions)))]
            severity = config.severities[int(rng.integers(len(config.severities)))]
            image = corrupt_image(np.ascontiguousarray(image), corruption, severity, rng)
        return pad_to(image, label, config.crop_size)


def pad_to(image: np.ndarray, label: np.ndarray, size: tuple[int, int]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Pad bottom/right to `size`: black image pixels, void labels (MMSegmentation's Pad)."""
    pad_h, pad_w = size[0] - image.shape[0], size[1] - image.shape[1]
    image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)))
    label = np.pad(label, ((0, pad_h), (0, pad_w)), constant_values=IGNORE_INDEX)
    return np.ascontiguousarray(image), np.ascontiguousarray(label)


def draw_generator(seed: int, frame: str, draw: int) -> np.random.Generator:
    """The random stream of one draw: fixed by (seed, frame name, draw index), so a cache entry
    does not depend on which other frames or draws exist."""
    return np.random.default_rng([seed, zlib.crc32(frame.encode()), draw])
