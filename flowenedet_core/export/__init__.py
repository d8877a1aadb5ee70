"""One graph from camera image to labels + uncertainty, and its ONNX export."""

from .graph import InferenceGraph
from .model_spec import ModelSpec
from .onnx_export import GraphInfo, export_onnx, read_graph_info

__all__ = ["GraphInfo", "InferenceGraph", "ModelSpec", "export_onnx", "read_graph_info"]
