"""Node parameter values -> the Pipeline and the scene-flag settings: one place, used by the node,
offline replay and calibration alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowenedet_core import embedded
from flowenedet_core.engines.cache import cache_dir
from flowenedet_core.export.model_spec import ModelSpec
from flowenedet_core.metrics.meta_classifier import MetaClassifier
from flowenedet_core.runtime.pipeline import GpuOptions, Pipeline
from flowenedet_core.tta import SINGLE_SCALE

from .anomaly_components import ComponentConfig
from .errors import ParameterError
from .frame_reason import ReasonConfig
from .image_evidence import EvidenceConfig
from .parameters import (
    COMPONENT_PARAMETERS,
    EVIDENCE_PARAMETERS,
    FLAG_PARAMETERS,
    REASON_PARAMETERS,
)
from .scene_flag import FlagConfig


def flag_values(values: dict[str, Any]) -> dict[str, Any]:
    """The FlagConfig fields of parameter `values` (for SceneFlag.reconfigure)."""
    flag = {name: values[name] for name in FLAG_PARAMETERS}
    flag["roi"] = tuple(flag["roi"])
    return flag


def flag_config(values: dict[str, Any]) -> FlagConfig:
    return FlagConfig(**flag_values(values))


def gpu_options(values: dict[str, Any]) -> GpuOptions:
    """How torch runs on a CUDA GPU: `gpu_mode`, `camera_size`, `parity_images`."""
    return GpuOptions(values["gpu_mode"],
                      tuple(values["camera_size"]) if all(values["camera_size"]) else None,
                      Path(values["parity_images"]).expanduser()
                      if values["parity_images"] else None)


def reason_config(values: dict[str, Any]) -> ReasonConfig:
    """The per-frame reason settings of parameter `values` (ParameterError when inconsistent)."""
    components = {field: values[name] for field, name in COMPONENT_PARAMETERS.items()}
    components["roi"] = tuple(components["roi"])
    return ReasonConfig(ComponentConfig(**components),
                        **{field: values[name] for field, name in REASON_PARAMETERS.items()},
                        evidence=EvidenceConfig(**{field: values[name] for field, name
                                                   in EVIDENCE_PARAMETERS.items()}))


def meta_classifier(values: dict[str, Any]) -> MetaClassifier | None:
    """The component meta classifier that `meta_classifier` names (None: empty)."""
    path = values["meta_classifier"]
    return MetaClassifier.load(Path(path).expanduser()) if path else None


def create_pipeline(values: dict[str, Any]) -> Pipeline:
    """The model the parameters name: `onnx`, or `backbone` + `weights` (+ `fed` / `score`,
    `tta_scales`)."""
    common = {"backend": values["backend"], "threads": values["threads"] or None,
              "artifacts": cache_dir(values["artifacts_dir"]),
              "engine": values["engine"] or None, "gpu": gpu_options(values)}
    tta_scales = tuple(values["tta_scales"])
    if values["onnx"]:
        if tta_scales != SINGLE_SCALE:
            raise ParameterError("tta_scales applies to backbone/weights; an onnx file has its "
                                 "scales built in (`flowenedet export --tta`)")
        return Pipeline.create(onnx=values["onnx"], **common)
    if not values["weights"]:
        raise ParameterError("set `weights` (with `backbone`, optionally `fed`) or `onnx`")
    size = tuple(values["input_size"]) if any(values["input_size"]) else None
    spec = ModelSpec(values["backbone"], embedded.resolve(values["weights"]), size,
                     embedded.resolve(values["fed"]) if values["fed"] else None,
                     values["score"], tta_scales=tta_scales)
    return Pipeline.create(spec, **common)
