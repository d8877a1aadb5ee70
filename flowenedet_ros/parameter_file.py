"""ROS 2 parameter files (`NODE: ros__parameters: {...}`) read and written without ROS, so
offline replay and calibration use exactly the settings the node would load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flowenedet_core import embedded
from flowenedet_core.errors import DataError

from .errors import ParameterError
from .parameters import BY_NAME, PARAMETERS

NODE_NAME = "flowenedet_node"


def default_values() -> dict[str, Any]:
    return {spec.name: spec.default for spec in PARAMETERS}


def embedded_model_values(variant: str = "fed-u", overrides: dict[str, Any] | None = None
                          ) -> dict[str, Any]:
    """The embedded model (`embedded:erfnet-tiny` with `embedded:VARIANT`) and the thresholds
    calibrated for it: the settings of config/flowenedet.yaml, then `overrides`."""
    return load_parameter_file(embedded.thresholds(), {
        "backbone": embedded.BACKBONE, "weights": f"{embedded.PREFIX}{embedded.BACKBONE}",
        "fed": f"{embedded.PREFIX}{variant}", **(overrides or {})})


def load_parameter_file(path: str | Path | None, overrides: dict[str, Any] | None = None,
                        node_name: str = NODE_NAME) -> dict[str, Any]:
    """Every parameter's value: defaults, then the file's `/**` section, then its section for
    `node_name` (as rclpy applies them), then `overrides`; each validated like the node does."""
    values = default_values()
    if path is not None:
        path = Path(path)
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise DataError(f"cannot read parameter file {path}: {error}") from None
        if not isinstance(document, dict):
            raise DataError(f"{path} is not a ROS 2 parameter file (NODE: ros__parameters: ...)")
        for section in ("/**", node_name, f"/{node_name}"):
            parameters = (document.get(section) or {}).get("ros__parameters", {})
            values.update(_checked(parameters, f"{path} [{section}]"))
    values.update(_checked(overrides or {}, "overrides"))
    return values


def _checked(parameters: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(parameters) - set(BY_NAME))
    if unknown:
        raise ParameterError(f"{where}: unknown parameter(s) {', '.join(unknown)}")
    return {name: BY_NAME[name].validate(value) for name, value in parameters.items()}


def parse_override(text: str) -> tuple[str, Any]:
    """'NAME:=VALUE' (as `--ros-args -p`) -> (name, YAML-parsed value)."""
    name, separator, value = text.partition(":=")
    if not separator or name not in BY_NAME:
        raise ParameterError(f"{text!r}: expected NAME:=VALUE with NAME one of the node's "
                             f"parameters ({', '.join(BY_NAME)})")
    return name, yaml.safe_load(value) if value else ""


def write_parameter_file(values: dict[str, Any], path: str | Path, comment: str = "") -> Path:
    """`/**: ros__parameters:` with every parameter, in PARAMETERS order; `comment` (lines)
    goes on top. `ros2 run ... --ros-args --params-file PATH` and replay load it as it is."""
    path = Path(path)
    parameters = {spec.name: BY_NAME[spec.name].validate(values[spec.name])
                  for spec in PARAMETERS}
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    body = yaml.safe_dump({"/**": {"ros__parameters": parameters}}, sort_keys=False,
                          default_flow_style=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body)
    return path
