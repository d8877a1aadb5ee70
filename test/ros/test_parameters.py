"""config/flowenedet.yaml, schema/flowenedet.schema.json and the README table against the one
parameter list the node declares."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from flowenedet_ros.errors import ParameterError
from flowenedet_ros.parameter_file import embedded_model_values, load_parameter_file
from flowenedet_ros.parameters import BY_NAME, PARAMETERS, markdown_table, schema

REPO = Path(__file__).resolve().parents[2]


def load_config() -> dict:
    return yaml.safe_load((REPO / "config" / "flowenedet.yaml").read_text())


def test_config_declares_every_parameter_with_the_embedded_model_settings():
    values = load_config()["/**"]["ros__parameters"]
    assert list(values) == [spec.name for spec in PARAMETERS]
    assert load_parameter_file(REPO / "config" / "flowenedet.yaml") == embedded_model_values()
    assert values["weights"] == "embedded:erfnet-tiny" and values["fed"] == "embedded:fed-u"


def test_an_unknown_embedded_model_is_refused_with_the_known_ones():
    with pytest.raises(ParameterError, match="weights: unknown embedded model 'embedded:x'; "
                                             "the embedded ones are embedded:erfnet-tiny"):
        BY_NAME["weights"].validate("embedded:x")


def test_config_validates_against_the_committed_closed_schema():
    committed = json.loads((REPO / "schema" / "flowenedet.schema.json").read_text())
    assert committed == schema(), "regenerate schema/flowenedet.schema.json from parameters.py"
    jsonschema.validate(load_config(), committed)


@pytest.mark.parametrize(("change", "message"), [
    ({"pixel_treshold": 0.5}, "Additional properties"),  # a typo is caught, not ignored
    ({"pixel_threshold": 1.5}, "maximum"),
    ({"backend": "openvino"}, "is not one of"),
    ({"roi": [0.0, 0.0, 1.0]}, "too short"),
    ({"tta_scales": []}, "should be non-empty"),
    ({"tta_scales": [1.0, 0.0]}, "less than or equal to the minimum"),
])
def test_schema_rejects_drifting_keys_and_bad_values(change, message):
    config = load_config()
    config["/**"]["ros__parameters"].update(change)
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(config, schema())


def test_readme_parameter_table_is_generated_from_the_list():
    assert markdown_table() in (REPO / "README.md").read_text()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("pixel_threshold", 2.0, "must be <= 1"),
    ("raise_frames", 0, "must be >= 1"),
    ("raise_frames", 2.5, "of type int"),
    ("roi", [0.0, 0.0, 1.0], "of type double_array"),
    ("roi", [0.0, -0.1, 1.0, 1.0], "must be >= 0"),
    ("score", "mcdropout", "must be one of"),
    ("publish_color", "yes", "of type bool"),
    ("tta_scales", [], "of type double_array"),
    ("tta_scales", [1.0, 0.0], "must be > 0"),
    ("tta_scales", [1.0, 2.5], "must be <= 2"),
    ("tta_scales", [0.5, 0.25], r"tta_scales: .* with 1\.0 among them"),
    ("tta_scales", [1.0, 1.0], "must be distinct"),
])
def test_parameter_values_are_validated_with_a_reason(name, value, message):
    with pytest.raises(ParameterError, match=message):
        BY_NAME[name].validate(value)


def test_test_time_scales_accept_any_length_with_scale_one():
    assert BY_NAME["tta_scales"].validate([1, 0.5, 0.25]) == [1.0, 0.5, 0.25]
    assert BY_NAME["tta_scales"].validate([0.5, 1.0]) == [0.5, 1.0]
