"""Every node parameter, defined once: declared with descriptors by the node, written to
config/flowenedet.yaml, described by schema/flowenedet.schema.json and the README table (tests
check all three against this list)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowenedet_core import embedded
from flowenedet_core.engines.cache import CACHE_VARIABLE, DEFAULT_CACHE
from flowenedet_core.errors import FlowenedetError
from flowenedet_core.runtime.pipeline import GPU_MODES
from flowenedet_core.tta import MAX_TTA_SCALE, check_tta_scales

from .errors import ParameterError
from .image_evidence import MAX_FOCUS


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any  # its type is the parameter's type (bool, int, float, str, list of float/int)
    description: str
    read_only: bool = False  # model, engine, backend, sizes: fixed for the node's lifetime
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # the minimum itself is out of range
    choices: tuple[str, ...] | None = None
    variable_length: bool = False  # arrays: any length >= 1 (else exactly the default's)
    check: Callable[[Any], Any] | None = None  # a further rule; raises FlowenedetError

    @property
    def kind(self) -> str:
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, list):
            return "int_array" if all(isinstance(v, int) for v in self.default) else \
                "double_array"
        return {int: "int", float: "double", str: "string"}[type(self.default)]

    def validate(self, value: Any) -> Any:
        """The value, converted to the declared type, or ParameterError with the reason."""
        try:
            value = self._coerce(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{self.name} must be of type {self.kind}, got {value!r}"
                                 ) from None
        items = value if isinstance(value, list) else [value]
        for item in items if self.kind != "string" else []:
            if self.minimum is not None and self.exclusive_minimum and item <= self.minimum:
                raise ParameterError(f"{self.name} must be > {self.minimum}, got {value!r}")
            if self.minimum is not None and item < self.minimum:
                raise ParameterError(f"{self.name} must be >= {self.minimum}, got {value!r}")
            if self.maximum is not None and item > self.maximum:
                raise ParameterError(f"{self.name} must be <= {self.maximum}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"{self.name} must be one of {', '.join(self.choices)}, "
                                 f"got {value!r}")
        if self.check is not None:
            try:
                self.check(value)
            except FlowenedetError as error:
                raise ParameterError(f"{self.name}: {error}") from None
        return value

    def _coerce(self, value: Any) -> Any:
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool) or not float(value).is_integer():
                raise TypeError
            return int(value)
        if kind == "double":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind == "string":
            if not isinstance(value, str):
                raise TypeError
            return value
        values = list(value)
        if not values or (not self.variable_length and len(values) != len(self.default)):
            raise ValueError
        cast = int if kind == "int_array" else float
        return [cast(v) for v in values]


def check_model_path(value: str) -> None:
    """An `embedded:NAME` must name a shipped file (other paths are opened at start-up)."""
    if value:
        embedded.resolve(value)


PARAMETERS: tuple[ParameterSpec, ...] = (
    # the model (read-only)
    ParameterSpec("backbone", "erfnet", "segmentation model: a flowenedet_core backbone name, "
                  "or module:callable building your own", read_only=True),
    ParameterSpec("weights", "", "backbone weights file or folder, or embedded:erfnet-tiny "
                  "(empty: only with onnx)", read_only=True, check=check_model_path),
    ParameterSpec("fed", "", "FED checkpoint directory, or embedded:fed-u / embedded:fed-c "
                  "(empty: the `score` baseline)", read_only=True, check=check_model_path),
    ParameterSpec("score", "msp", "baseline uncertainty when fed is empty", read_only=True,
                  choices=("msp", "msp20", "entropy", "maxlogit", "energy", "sml")),
    ParameterSpec("onnx", "", "an exported model to run instead of backbone/weights/fed",
                  read_only=True),
    ParameterSpec("engine", "", "TensorRT engine file (validated, rebuilt on mismatch); "
                  "empty: cached under artifacts_dir", read_only=True),
    ParameterSpec("backend", "auto", "inference backend", read_only=True,
                  choices=("auto", "tensorrt", "torch", "onnxruntime")),
    ParameterSpec("input_size", [0, 0], "model input [height, width]; [0, 0]: the backbone's",
                  read_only=True, minimum=0, maximum=8192),
    ParameterSpec("tta_scales", [1.0], "test-time scales of the input size, uncertainty "
                  "averaged over them; labels from 1.0, which must be among them",
                  read_only=True, minimum=0.0, exclusive_minimum=True, maximum=MAX_TTA_SCALE,
                  variable_length=True, check=check_tta_scales),
    ParameterSpec("threads", 0, "CPU threads for torch / onnxruntime (0: their default)",
                  read_only=True, minimum=0, maximum=256),
    ParameterSpec("artifacts_dir", "", "where exported ONNX files and TensorRT engines are "
                  f"cached (empty: ${CACHE_VARIABLE}, else {DEFAULT_CACHE})", read_only=True),
    ParameterSpec("gpu_mode", "auto", "torch on a CUDA GPU: auto = frames resized on the GPU, "
                  "CUDA graphs, backbone precision chosen by parity with fp32; eager = the "
                  "eager fp32 model with host resizing", read_only=True, choices=GPU_MODES),
    ParameterSpec("camera_size", [0, 0], "camera frame [height, width] whose CUDA graph is "
                  "captured at start; [0, 0]: the model input size (other sizes are captured "
                  "on their first frame)", read_only=True, minimum=0, maximum=16384),
    ParameterSpec("parity_images", "", "folder of frames for the GPU precision check (empty: "
                  "rendered synthetic streets)", read_only=True),
    # transport (read-only)
    ParameterSpec("image_transport", "raw", "camera input: raw (sensor_msgs/Image on ~/image) "
                  "or compressed (sensor_msgs/CompressedImage, JPEG or PNG, on "
                  "~/image/compressed)", read_only=True, choices=("raw", "compressed")),
    ParameterSpec("qos_reliability", "best_effort",
                  "image subscription reliability (best_effort: sensor-data QoS)",
                  read_only=True, choices=("best_effort", "reliable")),
    ParameterSpec("qos_depth", 1, "image subscription queue depth", read_only=True,
                  minimum=1, maximum=100),
    ParameterSpec("max_pixels", 4096 * 4096, "larger images are rejected", read_only=True,
                  minimum=1, maximum=1 << 28),
    ParameterSpec("diagnostics_period_s", 1.0, "period of /diagnostics and the stale check",
                  read_only=True, minimum=0.05, maximum=60.0),
    # outputs (live)
    ParameterSpec("publish_color", True, "publish ~/segmentation/color (rgb8)"),
    ParameterSpec("publish_ood_mask", True, "publish ~/ood_mask (mono8, 255 where uncertain)"),
    # the scene flag (live, validated)
    ParameterSpec("pixel_threshold", 0.5, "a pixel is uncertain above this uncertainty",
                  minimum=0.0, maximum=1.0),
    ParameterSpec("scene_threshold", 0.05, "a frame is uncertain above this fraction of "
                  "uncertain pixels in the ROI", minimum=0.0, maximum=1.0),
    ParameterSpec("raise_frames", 3, "consecutive uncertain frames that raise the flag",
                  minimum=1, maximum=10000),
    ParameterSpec("clear_frames", 10, "consecutive certain frames that clear it",
                  minimum=1, maximum=10000),
    ParameterSpec("roi", [0.0, 0.0, 1.0, 1.0], "region of interest [x0, y0, x1, y1] as "
                  "fractions of width and height", minimum=0.0, maximum=1.0),
    ParameterSpec("stale_timeout_s", 1.0, "no frame for this long raises the flag",
                  minimum=0.01, maximum=3600.0),
    # the reason of each frame: anomaly components and scene-wide uncertainty (live, validated)
    ParameterSpec("publish_ood_instances", True,
                  "publish ~/ood_instances (mono16 anomaly-component ids, 0 = none)"),
    ParameterSpec("component_min_area", 0.0005, "an anomaly component covers at least this "
                  "fraction of the frame", minimum=0.0, maximum=1.0),
    ParameterSpec("component_min_drivable_border", 0.5, "share of a component's outer border "
                  "that is predicted road or sidewalk", minimum=0.0, maximum=1.0),
    ParameterSpec("component_min_roi_overlap", 0.0, "share of a component's pixels inside the "
                  "ROI", minimum=0.0, maximum=1.0),
    ParameterSpec("component_max_width", 1.0, "its box spans at most this fraction of the "
                  "frame's width (no limit on its area)", minimum=0.0, maximum=1.0),
    ParameterSpec("component_min_fill", 0.0, "it covers at least this share of its box",
                  minimum=0.0, maximum=1.0),
    ParameterSpec("component_min_border_contrast", 0.0, "its mean uncertainty exceeds that of "
                  "its outer border by at least this", minimum=0.0, maximum=1.0),
    ParameterSpec("reason_scene_fraction", 0.2, "reason `scene` above this fraction of the frame "
                  "uncertain outside anomaly components", minimum=0.0, maximum=1.0),
    ParameterSpec("reason_scene_mean", 1.0, "or above this mean uncertainty of the frame (1: "
                  "off)", minimum=0.0, maximum=1.0),
    ParameterSpec("meta_classifier", "", "component meta classifier (meta.json of `flowenedet "
                  "fit-meta`) that must also keep a component; empty: none", read_only=True),
    # the image evidence: reason `scene` when the camera image itself is degraded (live)
    ParameterSpec("image_min_sharpness", 0.0, "degraded below this sharpness (Laplacian "
                  "standard deviation, upper tile quartile; 0: off)", minimum=0.0, maximum=1.0),
    ParameterSpec("image_min_focus", 0.0, "degraded below this focus (sharpness over RMS "
                  "contrast, upper tile quartile: blur whatever the scene's contrast; 0: off)",
                  minimum=0.0, maximum=MAX_FOCUS),
    ParameterSpec("image_min_contrast", 0.0, "degraded below this RMS contrast (upper tile "
                  "quartile; 0: off)", minimum=0.0, maximum=1.0),
    ParameterSpec("image_max_dark", 1.0, "degraded above this share of dark pixels (1: off)",
                  minimum=0.0, maximum=1.0),
    ParameterSpec("image_max_saturated", 1.0, "degraded above this share of saturated pixels "
                  "(1: off)", minimum=0.0, maximum=1.0),
    ParameterSpec("image_max_noise", 1.0, "degraded above this noise (median-filter residual, "
                  "lower tile quartile; 1: off)", minimum=0.0, maximum=1.0),
)
BY_NAME = {spec.name: spec for spec in PARAMETERS}
FLAG_PARAMETERS = ("pixel_threshold", "scene_threshold", "raise_frames", "clear_frames", "roi",
                   "stale_timeout_s")
# ReasonConfig / ComponentConfig fields <- parameters (pixel_threshold and roi are shared)
REASON_PARAMETERS = {"scene_fraction": "reason_scene_fraction", "scene_mean": "reason_scene_mean"}
COMPONENT_PARAMETERS = {"pixel_threshold": "pixel_threshold", "roi": "roi",
                        "min_area": "component_min_area",
                        "min_drivable_border": "component_min_drivable_border",
                        "min_roi_overlap": "component_min_roi_overlap",
                        "max_width": "component_max_width", "min_fill": "component_min_fill",
                        "min_border_contrast": "component_min_border_contrast"}
# EvidenceConfig fields <- parameters
EVIDENCE_PARAMETERS = {name: f"image_{name}" for name in
                       ("min_sharpness", "min_focus", "min_contrast", "max_dark",
                        "max_saturated", "max_noise")}


def schema() -> dict:
    """A closed JSON schema of config/flowenedet.yaml (`/**: ros__parameters:`)."""
    json_types = {"bool": "boolean", "int": "integer", "double": "number", "string": "string"}
    properties = {}
    for spec in PARAMETERS:
        entry: dict[str, Any] = {"description": spec.description, "default": spec.default}
        minimum = "exclusiveMinimum" if spec.exclusive_minimum else "minimum"
        bounds = {key: value for key, value in ((minimum, spec.minimum),
                                                ("maximum", spec.maximum)) if value is not None}
        if spec.kind.endswith("_array"):
            item_type = "integer" if spec.kind == "int_array" else "number"
            lengths = {"minItems": 1} if spec.variable_length else {
                "minItems": len(spec.default), "maxItems": len(spec.default)}
            entry.update(type="array", items={"type": item_type, **bounds}, **lengths)
        else:
            entry.update(type=json_types[spec.kind], **bounds)
        if spec.choices:
            entry["enum"] = list(spec.choices)
        if spec.read_only:
            entry["readOnly"] = True
        properties[spec.name] = entry
    parameters = {"type": "object", "properties": properties, "additionalProperties": False}
    node = {"type": "object", "properties": {"ros__parameters": parameters},
            "required": ["ros__parameters"], "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "flowenedet_node parameters", "type": "object",
            "properties": {"/**": node}, "required": ["/**"], "additionalProperties": False}


def markdown_table() -> str:
    """The README's parameter table."""
    lines = ["| parameter | type | default | range | live | description |",
             "|---|---|---|---|---|---|"]
    for spec in PARAMETERS:
        if spec.choices:
            bounds = " / ".join(spec.choices)
        elif spec.minimum is not None:
            bounds = f"{'(' if spec.exclusive_minimum else '['}{spec.minimum:g}, {spec.maximum:g}]"
        else:
            bounds = ""
        live = "no" if spec.read_only else "yes"
        lines.append(f"| `{spec.name}` | {spec.kind} | `{spec.default!r}` | {bounds} | {live} | "
                     f"{spec.description} |")
    return "\n".join(lines)
