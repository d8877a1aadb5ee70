"""ONNX files and TensorRT engines for a `ModelSpec`, exported or built on demand and cached
under one directory (engines.cache: `$FLOWENEDET_CACHE`, else ~/.cache/flowenedet/engines)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from ..backbones.weights import file_sha256
from ..engines.builder import build_engine, build_plan, gpu_identity
from ..engines.cache import EngineCache, EngineKey
from ..errors import ConfigError
from ..export.model_spec import ModelSpec
from ..export.onnx_export import GraphInfo, export_onnx, read_graph_info

LOGGER = logging.getLogger(__name__)


def export_spec(spec: ModelSpec, path: str | Path, fingerprint: str | None = None) -> Path:
    """Build `spec`'s graph on the CPU and export it to `path`, recording its fingerprint."""
    graph = spec.build_graph("cpu")
    info = GraphInfo(graph.image_size, graph.backbone.class_names, graph.output_names,
                     spec.head_name, spec.precision, fingerprint or spec.fingerprint(),
                     graph.tta_scales)
    return export_onnx(graph, path, info)


def ensure_onnx(spec: ModelSpec, directory: str | Path) -> Path:
    """`directory/<stem>.onnx` for `spec`, exported when missing or made from other files."""
    fingerprint = spec.fingerprint()
    path = Path(directory) / f"{spec.artifact_stem(fingerprint)}.onnx"
    if path.is_file() and read_graph_info(path)[0].source == fingerprint:
        return path
    LOGGER.info("exporting %s", path)
    return export_spec(spec, path, fingerprint)


def ensure_engine(onnx_fp32: Path, tensorrt_version: str, precision: str,
                  directory: str | Path, spec: ModelSpec | None = None,
                  engine_path: str | Path | None = None, max_batch: int = 1
                  ) -> tuple[bytes, Path, GraphInfo, dict[str, str]]:
    """(plan, engine path, and the graph info and node stages of the ONNX it was built from):
    a valid plan for this TensorRT and GPU, loaded from the cache, else built and cached.

    TensorRT 11 builds FP16 from the FP16 export, which needs `spec` to produce it."""
    plan = build_plan(tensorrt_version, precision)
    onnx_path = onnx_fp32
    if plan.onnx_precision != "fp32":
        if spec is None:
            raise ConfigError("an FP16 engine on TensorRT 11 is built from the FP16 export: "
                              "give the model (backbone, weights, fed), not only an ONNX file")
        onnx_path = ensure_onnx(replace(spec, precision=plan.onnx_precision), directory)
    info, stages = read_graph_info(onnx_path)
    gpu_name, capability = gpu_identity()
    key = EngineKey(file_sha256(onnx_path), tensorrt_version, gpu_name, capability, precision,
                    (max_batch, *info.image_size, 3))
    cache = EngineCache(directory)
    path = Path(engine_path) if engine_path else cache.path_for(onnx_path.stem, key)
    serialized = cache.load(path, key)
    if serialized is None:
        serialized = build_engine(onnx_path, plan, info.image_size, max_batch)
        cache.store(path, key, serialized)
    return serialized, path, info, stages
