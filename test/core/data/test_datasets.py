import numpy as np
import pytest

from flowenedet_core.data.datasets import CityscapesFolder
from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.data.transforms import parse_size, resize_image, resize_label, resize_nearest
from flowenedet_core.errors import DataError


def test_spec_names_kinds_and_splits(tiny_data):
    dataset = parse_data_spec(f"mine=cityscapes:{tiny_data['cityscapes']}:train")
    assert (dataset.name, dataset.kind, len(dataset)) == ("mine", "cityscapes", 3)
    anomaly = parse_data_spec(f"anomaly:{tiny_data['anomaly']}")
    assert (anomaly.name, anomaly.kind, len(anomaly)) == ("anomaly", "anomaly", 3)


def test_a_slice_and_its_complement_split_a_folder(tiny_data):
    root = tiny_data["cityscapes"]
    held_out = parse_data_spec(f"cityscapes:{root}:train@1::2")
    rest = parse_data_spec(f"cityscapes:{root}:train@!1::2")
    everything = parse_data_spec(f"cityscapes:{root}:train")
    assert held_out.pairs == everything.pairs[1::2] and len(rest) == 2
    assert sorted(held_out.pairs + rest.pairs) == sorted(everything.pairs)
    assert held_out.name == "cityscapes-train@1::2"
    corrupted = parse_data_spec(f"cityscapes-c:{root}:val:gaussian_noise:1@1")
    assert len(corrupted) == 1 and corrupted[0].name == parse_data_spec(
        f"cityscapes:{root}:val")[1].name
    with pytest.raises(DataError, match="is not a slice"):
        parse_data_spec(f"cityscapes:{root}:train@a:b")
    with pytest.raises(DataError, match="selects no frame"):
        parse_data_spec(f"cityscapes:{root}:train@5:")


def test_cityscapes_c_corrupts_images_deterministically(tiny_data):
    spec = f"cityscapes-c:{tiny_data['cityscapes']}:val:gaussian_noise:3"
    first, second = parse_data_spec(spec)[0], parse_data_spec(spec)[0]
    clean = CityscapesFolder("val", tiny_data["cityscapes"], "val")[0]
    assert np.array_equal(first.image, second.image)
    assert not np.array_equal(first.image, clean.image)
    assert np.array_equal(first.label, clean.label)


@pytest.mark.parametrize("spec, message", [
    ("cityscapes:/nowhere:val", "is not a Cityscapes tree"),
    ("anomaly:/nowhere", "is not an anomaly folder"),
    ("cityscapes:/x", "needs a split"),
    ("cityscapes-c:{root}:val:no_such_thing:2", "unknown corruption"),
])
def test_bad_specs_raise_with_the_fix(spec, message, tiny_data):
    with pytest.raises(DataError, match=message):
        parse_data_spec(spec.format(root=tiny_data["cityscapes"]))


def test_label_ids_are_mapped_to_train_ids(tmp_path):
    from conftest import write_png

    image = np.zeros((4, 4, 3), np.uint8)
    label_ids = np.array([[7, 8, 26, 0]] * 4, np.uint8)
    write_png(tmp_path / "leftImg8bit/val/c/a_000000_000019_leftImg8bit.png", image)
    write_png(tmp_path / "gtFine/val/c/a_000000_000019_gtFine_labelIds.png", label_ids)
    label = CityscapesFolder("v", tmp_path, "val")[0].label
    assert label[0].tolist() == [0, 1, 13, 255]


def test_truncated_image_is_reported(tmp_path):
    from conftest import write_png

    write_png(tmp_path / "images/a.png", np.zeros((8, 8, 3), np.uint8))
    write_png(tmp_path / "labels_masks/a.png", np.zeros((8, 8), np.uint8))
    data = (tmp_path / "images/a.png").read_bytes()
    (tmp_path / "images/a.png").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="cannot read image"):
        parse_data_spec(f"anomaly:{tmp_path}")[0]


def test_resizing_keeps_types_and_label_values():
    image = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    assert resize_image(image, (20, 30)).dtype == np.uint8
    label = np.array([[0, 1], [255, 1]], np.uint8)
    assert set(np.unique(resize_label(label, (8, 8)))) <= {0, 1, 255}
    assert parse_size("512x1024") == (512, 1024)
    with pytest.raises(DataError, match="HEIGHTxWIDTH"):
        parse_size("512")


@pytest.mark.parametrize(("source", "size"), [((64, 128), (100, 150)), ((64, 128), (48, 96)),
                                              ((512, 1024), (1024, 2048)), ((7, 5), (3, 11)),
                                              ((64, 128), (1024, 2048)), ((33, 17), (99, 51))])
def test_nearest_resize_samples_pixel_centres_as_torch_nearest_exact(source, size):
    import torch
    import torch.nn.functional as F

    labels = np.arange(source[0] * source[1]).reshape(source).astype(np.int32)
    expected = F.interpolate(torch.from_numpy(labels)[None, None].float(), size=size,
                             mode="nearest-exact")[0, 0].numpy().astype(np.int32)
    assert np.array_equal(resize_nearest(labels, size), expected)
