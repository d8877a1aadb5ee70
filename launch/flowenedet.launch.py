"""ros2 launch flowenedet flowenedet.launch.py camera_topic:=/front/image_raw namespace:=front

One node per camera: launch this file once per camera namespace (see README)."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    default_params = os.path.join(get_package_share_directory("flowenedet"), "config",
                                  "flowenedet.yaml")
    arguments = [
        DeclareLaunchArgument("camera_topic", default_value="/camera/image_raw",
                              description="sensor_msgs/Image topic to watch (image_transport "
                                          "compressed: its /compressed topic)"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of this camera's node and outputs"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="parameters YAML (config/flowenedet.yaml layout)"),
        DeclareLaunchArgument("backend", default_value="auto",
                              description="auto | tensorrt | torch | onnxruntime"),
    ]
    node = Node(
        package="flowenedet",
        executable="flowenedet_node",
        name="flowenedet_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"),
                    {"backend": LaunchConfiguration("backend")}],
        remappings=[("~/image", LaunchConfiguration("camera_topic")),
                    ("~/image/compressed", [LaunchConfiguration("camera_topic"), "/compressed"])],
        output="screen",
    )
    return LaunchDescription([*arguments, node])
