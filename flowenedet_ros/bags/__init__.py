"""rosbag2 tooling without a ROS install (through `rosbags`): image folders to bags, offline
replay with reports, live play-and-record against the running node, threshold calibration."""
