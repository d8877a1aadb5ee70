"""`InferenceGraph` -> ONNX, and what a runtime needs to know about an exported file.

Exported with the torch.export-based exporter (`dynamo=True`, opset 18): input `image` uint8
(N, H, W, 3) RGB; outputs `labels` uint8 (N, H, W) and `uncertainty` float32 (N, H, W). Only the
batch axis N is dynamic; H and W are fixed per file (one graph per input size). Each node carries
a `flowenedet.stage` metadata entry (preprocess / backbone / fed or score / postprocess), which the
profilers of onnxruntime and TensorRT use to time the stages of the single graph.
"""

from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ExportError
from ..tta import SINGLE_SCALE
from .graph import InferenceGraph

LOGGER = logging.getLogger(__name__)
OPSET = 18
STAGE_KEY = "flowenedet.stage"
MODEL_KEY = "flowenedet.model"
_SCOPES_KEY = "pkg.torch.onnx.name_scopes"


@dataclass(frozen=True)
class GraphInfo:
    """The model-level metadata written into every exported file."""

    image_size: tuple[int, int]
    class_names: tuple[str, ...]
    outputs: tuple[str, ...]
    head: str  # fed, a baseline score name, or none
    precision: str
    source: str  # the ModelSpec fingerprint or a free description
    tta_scales: tuple[float, ...] = SINGLE_SCALE  # the uncertainty is averaged over these

    def to_json(self) -> str:
        return json.dumps({"image_size": list(self.image_size),
                           "class_names": list(self.class_names), "outputs": list(self.outputs),
                           "head": self.head, "precision": self.precision,
                           "source": self.source, "tta_scales": list(self.tta_scales)})


def export_onnx(graph: InferenceGraph, path: str | Path, info: GraphInfo,
                opset: int = OPSET) -> Path:
    """Write `graph` to `path` (one self-contained file), stage-tagged, with `info` attached."""
    import onnx

    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    for chatty in ("onnx_ir", "onnxscript"):  # per-pass INFO lines
        logging.getLogger(chatty).setLevel(logging.WARNING)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = graph.image_size
    example = torch.zeros(2, height, width, 3, dtype=torch.uint8,
                          device=next(graph.parameters()).device)
    batch = torch.export.Dim("batch", min=1, max=64)
    try:
        program = torch.onnx.export(
            graph, (example,), dynamo=True, opset_version=opset, input_names=["image"],
            output_names=list(graph.output_names), dynamic_shapes=({0: batch},),
            external_data=False, verbose=False)
    except Exception as error:  # torch.export raises many types; one line for the user
        raise ExportError(f"ONNX export of the graph failed: {type(error).__name__}: "
                          f"{str(error).splitlines()[0]}") from error
    model = program.model_proto
    stages = {"preprocess", "backbone", "postprocess"}
    for node in model.graph.node:
        scopes = next((p.value for p in node.metadata_props if p.key == _SCOPES_KEY), "[]")
        scope = ast.literal_eval(scopes)[1:2]  # ['', 'backbone', 'backbone.encoder', ...]
        stage = scope[0] if scope and scope[0] in stages else (
            graph.head_stage if scope and scope[0] == "head" else "other")
        del node.metadata_props[:]  # stack traces and FX dumps: megabytes of no use at run time
        node.metadata_props.add(key=STAGE_KEY, value=stage)
    model.metadata_props.add(key=MODEL_KEY, value=info.to_json())
    temporary = path.with_suffix(".tmp")
    onnx.save_model(model, str(temporary))
    temporary.replace(path)
    LOGGER.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def read_graph_info(path: str | Path) -> tuple[GraphInfo, dict[str, str]]:
    """An exported file's `GraphInfo` and its node (and node output) name -> stage map;
    ExportError if the file is not ours."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"ONNX file not found: {path} (create it with `flowenedet export`)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:
        raise ExportError(f"{path} is not a readable ONNX file: {error}") from error
    meta = next((p.value for p in model.metadata_props if p.key == MODEL_KEY), None)
    if meta is None:
        raise ExportError(f"{path} was not written by `flowenedet export` (no {MODEL_KEY} "
                          "metadata): re-export it")
    data = json.loads(meta)
    info = GraphInfo(tuple(data["image_size"]), tuple(data["class_names"]),
                     tuple(data["outputs"]), data["head"], data["precision"], data["source"],
                     tuple(data.get("tta_scales", SINGLE_SCALE)))  # files before TTA: 1 scale
    stages = {}
    for node in model.graph.node:
        stage = next((p.value for p in node.metadata_props if p.key == STAGE_KEY), "other")
        # Node names, and the values they produce: optimisers rename fused nodes after those.
        stages.update(dict.fromkeys([node.name, *node.output], stage))
    return info, stages
