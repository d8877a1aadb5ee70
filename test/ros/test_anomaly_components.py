import numpy as np
import pytest

from flowenedet_ros.anomaly_components import ComponentConfig, find_components
from flowenedet_ros.errors import ParameterError

ROAD, SIDEWALK, BUILDING, TERRAIN, CAR = 0, 1, 2, 9, 13


def street(height: int = 40, width: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Certain everywhere; buildings in the upper half, road in the lower half."""
    labels = np.full((height, width), ROAD, np.uint8)
    labels[:height // 2] = BUILDING
    return np.zeros((height, width), np.float32), labels


def test_an_uncertain_blob_on_the_road_is_a_component_with_its_statistics():
    uncertainty, labels = street()
    uncertainty[25:30, 10:18] = 0.8
    uncertainty[27, 12] = 0.95
    labels[25:30, 10:18] = CAR  # the unknown object is predicted as something, not as road
    result = find_components(uncertainty, labels, ComponentConfig(min_area=0.001))
    (component,) = result.components
    assert component.box == (10, 25, 8, 5)
    assert component.area == 40
    assert component.max_uncertainty == pytest.approx(0.95)
    assert component.mean_uncertainty == pytest.approx((39 * 0.8 + 0.95) / 40)
    assert component.drivable_border == 1.0
    assert result.uncertain_pixels == result.component_pixels == 40
    assert result.spread_fraction == 0.0


def test_uncertain_regions_off_the_road_are_not_components_but_count_as_spread():
    uncertainty, labels = street()
    uncertainty[2:8, 10:20] = 0.9  # a facade
    result = find_components(uncertainty, labels, ComponentConfig(min_area=0.001))
    assert result.components == ()
    assert result.spread_fraction == pytest.approx(60 / (40 * 80))


def test_sidewalk_is_drivable_and_other_classes_are_not():
    uncertainty, labels = street()
    uncertainty[25:30, 10:18] = 0.8
    labels[20:] = SIDEWALK
    assert find_components(uncertainty, labels, ComponentConfig(min_area=0.001)
                           ).components[0].drivable_border == 1.0
    labels[20:] = TERRAIN
    assert find_components(uncertainty, labels, ComponentConfig(min_area=0.001)
                           ).components == ()


def test_a_component_half_on_the_road_has_half_a_drivable_border():
    uncertainty, labels = street(40, 80)
    uncertainty[16:24, 30:40] = 0.9  # straddles the building / road line at row 20
    result = find_components(uncertainty, labels, ComponentConfig(min_area=0.001,
                                                                  min_drivable_border=0.0))
    border = result.components[0].drivable_border
    assert border == pytest.approx(0.5, abs=0.05)
    strict = ComponentConfig(min_area=0.001, min_drivable_border=0.6)
    assert find_components(uncertainty, labels, strict).components == ()


def test_a_component_mostly_outside_the_roi_is_dropped_when_asked():
    uncertainty, labels = street()
    uncertainty[25:30, 10:18] = 0.8  # columns 10-17 of 80
    config = ComponentConfig(min_area=0.001, roi=(0.1875, 0.0, 1.0, 1.0))  # from column 15
    (component,) = find_components(uncertainty, labels, config).components
    assert component.roi_overlap == pytest.approx(3 / 8)
    strict = ComponentConfig(min_area=0.001, roi=(0.1875, 0.0, 1.0, 1.0), min_roi_overlap=0.5)
    assert find_components(uncertainty, labels, strict).components == ()


def test_specks_are_dropped_and_size_has_no_upper_limit():
    uncertainty, labels = street()
    uncertainty[30, 5] = 0.9  # one pixel
    uncertainty[21:39, 20:79] = 0.9  # a third of the frame
    uncertainty[24:28, 4:8] = 0.9  # 16 pixels, 0.5 %
    config = ComponentConfig(min_area=0.002)
    result = find_components(uncertainty, labels, config)
    assert [c.area for c in result.components] == [18 * 59, 16]
    assert result.uncertain_pixels == 1 + 18 * 59 + 16


def test_shape_measures_of_a_component():
    uncertainty, labels = street()
    uncertainty[24:28, 4:12] = 0.9  # 4 x 8 box, full
    uncertainty[24:28, 30] = 0.9  # a vertical line beside it
    (block, line) = find_components(uncertainty, labels, ComponentConfig(min_area=0.0)
                                    ).components
    assert block.width_share == pytest.approx(8 / labels.shape[1]) and block.fill == 1.0
    assert block.border_contrast == pytest.approx(0.9 - float(uncertainty[23, 3]))
    assert line.width_share == pytest.approx(1 / labels.shape[1])


def test_components_are_largest_first_and_instances_number_them():
    uncertainty, labels = street()
    uncertainty[24:26, 4:8] = 0.9  # 8 pixels
    uncertainty[30:35, 40:46] = 0.9  # 30 pixels
    result = find_components(uncertainty, labels, ComponentConfig(min_area=0.001))
    assert [c.area for c in result.components] == [30, 8]
    instances = result.instances()
    assert instances.dtype == np.uint16
    assert (instances[30:35, 40:46] == 1).all() and (instances[24:26, 4:8] == 2).all()
    assert np.count_nonzero(instances) == 38


def test_eight_connected_pixels_form_one_component():
    uncertainty, labels = street()
    for step in range(6):
        uncertainty[25 + step, 10 + step] = 0.9  # a diagonal line
    result = find_components(uncertainty, labels, ComponentConfig(min_area=0.0))
    assert len(result.components) == 1


def test_maps_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="must be the same"):
        find_components(np.zeros((4, 4), np.float32), np.zeros((4, 5), np.uint8),
                        ComponentConfig())


@pytest.mark.parametrize(("changes", "message"), [
    ({"max_width": 1.2}, "max_width must be in"),
    ({"min_fill": -0.1}, "min_fill must be in"),
    ({"min_drivable_border": 1.5}, "min_drivable_border must be in"),
])
def test_inconsistent_settings_are_rejected(changes, message):
    with pytest.raises(ParameterError, match=message):
        ComponentConfig(**changes)
