"""The arguments of launch/flowenedet.launch.py and what they do to the node's parameters,
without the `launch` package (so they are tested where ROS's launch is not installed).

The params file comes first; a model argument (`weights`, `fed`, `backbone`, `backend`,
`score`) overrides it only when given: its default, "", means "as the params file says", so a
`backend` that `flowenedet calibrate` wrote into the file is not silently replaced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NOT_GIVEN = ""


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str


PARAMETER_ARGUMENTS = (
    LaunchArgument("weights", NOT_GIVEN, "backbone weights file or folder, or "
                   "embedded:erfnet-tiny (default: the params file's)"),
    LaunchArgument("fed", NOT_GIVEN, "FED checkpoint directory, or embedded:fed-u / "
                   "embedded:fed-c (default: the params file's)"),
    LaunchArgument("backbone", NOT_GIVEN, "backbone name or module:callable (default: the "
                   "params file's)"),
    LaunchArgument("backend", NOT_GIVEN, "auto | tensorrt | torch | onnxruntime (default: the "
                   "params file's)"),
    LaunchArgument("score", NOT_GIVEN, "baseline uncertainty without fed: msp | msp20 | entropy "
                   "| maxlogit | energy | sml (default: the params file's)"),
)


def launch_arguments(default_params_file: str) -> tuple[LaunchArgument, ...]:
    """Every argument of the launch file, `params_file` defaulting to the installed config."""
    return (
        LaunchArgument("camera_topic", "/camera/image_raw", "sensor_msgs/Image topic to watch "
                       "(image_transport compressed: its /compressed topic)"),
        LaunchArgument("namespace", "", "namespace of this camera's node and outputs"),
        LaunchArgument("params_file", default_params_file, "parameters YAML "
                       "(config/flowenedet.yaml layout; default: the embedded demo model)"),
        *PARAMETER_ARGUMENTS,
    )


def parameter_overrides(values: Mapping[str, str]) -> dict[str, str]:
    """The node parameters set by the launch arguments that were given (not empty), to be
    applied after the params file."""
    return {argument.name: values[argument.name] for argument in PARAMETER_ARGUMENTS
            if values.get(argument.name, NOT_GIVEN) != NOT_GIVEN}
