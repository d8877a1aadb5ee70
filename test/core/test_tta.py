import argparse

import pytest

from flowenedet_core.errors import ConfigError
from flowenedet_core.tta import check_tta_scales, parse_tta_scales, scaled_size


def test_scales_are_put_in_one_order_with_scale_one_first():
    assert check_tta_scales([0.25, 1, 0.5]) == (1.0, 0.5, 0.25)
    assert check_tta_scales([0.5, 1.5, 1.0]) == (1.0, 1.5, 0.5)


@pytest.mark.parametrize("scales", [[0.5, 0.25], [0.0, 1.0], [-0.5, 1.0], [1.0, 2.5],
                                    [1.0, 1.0], [], [float("nan"), 1.0]])
def test_invalid_scales_give_one_clear_error(scales):
    with pytest.raises(ConfigError, match=r"each in \(0, 2\], with 1\.0 among them"):
        check_tta_scales(scales)


def test_the_command_line_list_is_parsed_and_checked():
    assert parse_tta_scales("1,0.5,0.25") == (1.0, 0.5, 0.25)
    with pytest.raises(argparse.ArgumentTypeError, match="not a comma list of numbers"):
        parse_tta_scales("1,half")
    with pytest.raises(argparse.ArgumentTypeError, match=r"with 1\.0 among them"):
        parse_tta_scales("0.5")


def test_scaled_sizes_are_multiples_of_32_and_scale_one_is_unchanged():
    assert scaled_size((512, 1024), 0.5) == (256, 512)
    assert scaled_size((512, 1024), 0.25) == (128, 256)
    assert scaled_size((100, 180), 0.5) == (64, 96)
    assert scaled_size((64, 128), 0.25) == (32, 32)  # never below 32
    assert scaled_size((100, 180), 1.0) == (100, 180)
