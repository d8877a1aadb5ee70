"""package.xml names what the code imports: rosdep keys where they exist, the rest in its note."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROS = ("rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "rcl_interfaces",
       "ament_index_python", "launch", "launch_ros")
ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml",
               "tqdm": "python3-tqdm", "matplotlib": "python3-matplotlib",
               "onnxruntime": "python3-onnxruntime-pip", "rosbags": "python3-rosbags-pip"}
PIP_NOTED = {"torch": "torch", "safetensors": "safetensors", "onnx": "onnx", "lz4": "lz4",
             "backports": "backports.zstd"}
OPTIONAL = {"tensorrt", "triton", "transformers", "imagecorruptions",  # GPU path and extras
            "compression"}  # compression.zstd: the standard library from Python 3.14
OWN = {"flowenedet_core", "flowenedet_ros"}


def imported_modules() -> set[str]:
    files = [*REPO.joinpath("flowenedet_core").rglob("*.py"),
             *REPO.joinpath("flowenedet_ros").rglob("*.py"), *REPO.joinpath("launch").glob("*.py")]
    modules = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - OWN


def test_every_import_is_a_declared_dependency_or_noted():
    text = REPO.joinpath("package.xml").read_text()
    declared = {element.text for element in ElementTree.fromstring(text).iter("exec_depend")}
    imported = imported_modules()
    unknown = imported - set(ROS) - set(ROSDEP_KEYS) - set(PIP_NOTED) - OPTIONAL
    assert not unknown, f"say in package.xml how {sorted(unknown)} are installed"
    assert {name for name in imported if name in ROS} <= declared
    assert {ROSDEP_KEYS[name] for name in imported if name in ROSDEP_KEYS} <= declared
    note = text[text.index("Not from rosdep"):]
    assert all(PIP_NOTED[name] in note for name in imported if name in PIP_NOTED)
