"""ros2 launch flowenedet flowenedet.launch.py camera_topic:=/front/image_raw namespace:=front

One node per camera: launch this file once per camera namespace. Without arguments the node runs
the embedded demo model with the installed config/flowenedet.yaml; `weights:=`, `fed:=`,
`backbone:=`, `backend:=` and `score:=` override that file only when given
(flowenedet_ros/launch_arguments.py)."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch_ros.actions import Node

from flowenedet_ros.launch_arguments import launch_arguments, parameter_overrides


def node_with_overrides(context) -> list[Node]:
    """The node, its parameters: the params file, then the model arguments that were given."""
    given = dict(context.launch_configurations)  # every declared argument, as a string
    overrides = parameter_overrides(given)
    camera_topic = given["camera_topic"]
    return [Node(
        package="flowenedet",
        executable="flowenedet_node",
        name="flowenedet_node",
        namespace=given["namespace"],
        parameters=[given["params_file"], *([overrides] if overrides else [])],
        remappings=[("~/image", camera_topic), ("~/image/compressed", camera_topic +
                                                "/compressed")],
        output="screen",
    )]


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("flowenedet"), "config",
                                  "flowenedet.yaml")
    arguments = [DeclareLaunchArgument(argument.name, default_value=argument.default,
                                       description=argument.description)
                 for argument in launch_arguments(default_params)]
    return LaunchDescription([*arguments, OpaqueFunction(function=node_with_overrides)])
