"""flowenedet_ros: the ROS 2 node around flowenedet_core's pipeline (see DESIGN.md)."""
