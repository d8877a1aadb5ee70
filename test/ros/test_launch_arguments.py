"""launch/flowenedet.launch.py: its arguments and what they do to the node's parameters.

ROS's `launch` and `launch_ros` are not on PyPI, so the launch description itself is not run
here: the arguments and the override rule live in flowenedet_ros.launch_arguments (tested
below), and the launch file is checked to build its arguments and parameters from them."""

from __future__ import annotations

import ast
from pathlib import Path

from flowenedet_ros.launch_arguments import (
    PARAMETER_ARGUMENTS,
    launch_arguments,
    parameter_overrides,
)
from flowenedet_ros.parameters import BY_NAME

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO / "launch" / "flowenedet.launch.py"


def test_model_arguments_override_the_params_file_only_when_given():
    declared = {argument.name: argument.default for argument in launch_arguments("cfg.yaml")}
    assert parameter_overrides(declared) == {}  # `ros2 launch` with no argument: the file rules
    given = {**declared, "weights": "/models/erfnet.pth", "backend": "onnxruntime"}
    assert parameter_overrides(given) == {"weights": "/models/erfnet.pth",
                                          "backend": "onnxruntime"}


def test_launch_arguments_are_camera_namespace_params_and_node_parameters():
    names = [argument.name for argument in launch_arguments("cfg.yaml")]
    assert names == ["camera_topic", "namespace", "params_file", "weights", "fed", "backbone",
                     "backend", "score"]
    assert {argument.name for argument in PARAMETER_ARGUMENTS} <= set(BY_NAME)
    assert all(argument.default == "" for argument in PARAMETER_ARGUMENTS)


def test_the_launch_file_declares_those_arguments_and_applies_the_overrides_last():
    tree = ast.parse(LAUNCH_FILE.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert {"launch_arguments", "parameter_overrides", "DeclareLaunchArgument",
            "OpaqueFunction", "Node"} <= names
    node_call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                     and getattr(node.func, "id", "") == "Node")
    parameters = next(k.value for k in node_call.keywords if k.arg == "parameters")
    assert ast.unparse(parameters) == "[given['params_file'], *([overrides] if overrides else [])]"
    compile(LAUNCH_FILE.read_text(), str(LAUNCH_FILE), "exec")
