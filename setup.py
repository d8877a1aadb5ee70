"""ament_python package `flowenedet`: builds with colcon on a ROS 2 install, with pip anywhere."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "flowenedet"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["flowenedet_core", "flowenedet_core.*",
                                    "flowenedet_ros", "flowenedet_ros.*"]),
    # the embedded demo model (a few MB): weights, FED checkpoints, thresholds
    package_data={"flowenedet_core.embedded": ["*.safetensors", "*.json", "*.yaml", "fed-*/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/schema", glob("schema/*.json")),
    ],
    python_requires=">=3.10",
    # A torch *range*: vehicle computers bring their own CUDA build; the Makefile pins CPU torch.
    # 2.6 is the first with the torch.export-based ONNX exporter `flowenedet export` uses.
    install_requires=[
        "torch>=2.6,<3",
        "numpy>=1.24",
        "safetensors>=0.4",
        "opencv-python-headless>=4.8",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "onnx>=1.16",
        "onnxscript>=0.2",  # the torch.export-based ONNX exporter
        "onnxruntime>=1.17",  # the CPU backend (TensorRT, when installed, takes the GPU)
        "rosbags>=0.10",  # rosbag2 read/write without ROS (make-bag, replay, play, calibrate)
        # messages and MCAP chunks compressed per message (rosbags reads these too)
        "backports.zstd>=1.0; python_version < '3.14'",
        "lz4>=4",
        "pyyaml>=6",  # node parameter files
        "setuptools",
    ],
    extras_require={
        "segformer": ["transformers>=4.40"],
        "corruptions": ["imagecorruptions-imaug>=1.1"],
        # ROS 2 (Kilted) from PyPI wheels, for machines without a ROS install (tests, demo);
        # on a ROS install rclpy and the messages come from the system instead.
        "rospip": ["ros-rclpy", "ros-sensor-msgs", "ros-std-msgs", "ros-diagnostic-msgs",
                   "ros-rmw-fastrtps-cpp"],
        # the same for ROS 2 Jazzy (`make test-jazzy`), in a venv of its own
        "rospip-jazzy": ["ros-jazzy-rclpy", "ros-jazzy-sensor-msgs", "ros-jazzy-std-msgs",
                         "ros-jazzy-diagnostic-msgs", "ros-jazzy-rmw-fastrtps-cpp"],
        "test": [
            "pytest>=7",
            "scikit-learn>=1.3",
            "ruff>=0.5",
            "transformers>=4.40",
            "imagecorruptions-imaug>=1.1",
            "jsonschema>=4",
            # bags written by other tools, in the bag corpus tests
            "mcap>=1.2",
            "mcap-ros2-support>=0.5",
            "zstandard>=0.22",
            # the fused FED flow's parity tests (its CPU interpreter); triton 3.9 has wheels for
            # Linux x86_64 and Python >= 3.11 only, and requires no torch (pulls no CUDA build)
            "triton>=3.9; platform_system == 'Linux' and platform_machine == 'x86_64' "
            "and python_version >= '3.11'",
        ],
    },
    zip_safe=True,
    maintainer="flowenedet developers",
    maintainer_email="flowenedet@example.com",
    description="FlowEneDet misclassification and OOD detection for semantic segmentation",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "flowenedet = flowenedet_ros.cli:main",
            "flowenedet_node = flowenedet_ros.node:main",
        ],
    },
)
