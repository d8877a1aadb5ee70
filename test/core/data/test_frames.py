import numpy as np
import pytest

from flowenedet_core.data.frames import load_frames
from flowenedet_core.errors import DataError

from conftest import write_png


def test_frames_come_from_image_files_recursively_resized(tmp_path):
    for index in range(3):
        write_png(tmp_path / f"sub{index}" / f"{index}.png", np.full((20, 30, 3), index, np.uint8))
    frames, source = load_frames(tmp_path, 2, (10, 16))
    assert source == str(tmp_path) and len(frames) == 2
    assert frames[1].shape == (10, 16, 3) and frames[1].max() == 1


def test_without_a_folder_frames_are_seeded_noise():
    first, source = load_frames(None, 2, (8, 12), seed=3)
    again, _ = load_frames(None, 2, (8, 12), seed=3)
    assert source == "random" and first[0].shape == (8, 12, 3)
    assert np.array_equal(first[1], again[1])


def test_a_folder_without_images_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no images"):
        load_frames(tmp_path, 1)
