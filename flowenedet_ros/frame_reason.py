"""Why a frame is uncertain, in one word: pure Python, no ROS.

- `object`: at least one anomaly component (an uncertain region bounded by the drivable region,
  by its shape and by its edges, at any size, see anomaly_components) — something on the road the
  model does not know (semantic shift);
- `scene`: the camera cannot see well or the whole frame is foreign —
  the image evidence (image_evidence, from the image alone) says the frame is degraded (blurred,
  low contrast, dark, saturated, noisy), whether or not the model is uncertain (a model can be
  confidently wrong in fog); or, without such evidence, the model's uncertainty is spread over
  the frame: the uncertain pixels outside the anomaly components exceed `scene_fraction` of the
  frame, or its mean uncertainty exceeds `scene_mean` (a new domain: covariate shift);
- `object+scene`: both;
- `input`: the frame could not be judged (it failed, or none came for `stale_timeout_s`);
- `none`: neither.
The reason is per frame, without hysteresis: the scene flag (`scene_flag`) says *whether* to act,
the reason says *what kind* of trouble the current frame shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowenedet_core.metrics.meta_classifier import MetaClassifier

from .anomaly_components import ComponentConfig, Components, find_components
from .errors import ParameterError
from .image_evidence import EvidenceConfig, ImageEvidence, image_evidence

OBJECT, SCENE, OBJECT_AND_SCENE, INPUT, NONE = "object", "scene", "object+scene", "input", "none"
REASONS = (NONE, OBJECT, SCENE, OBJECT_AND_SCENE, INPUT)


@dataclass(frozen=True)
class ReasonConfig:
    components: ComponentConfig = field(default_factory=ComponentConfig)
    scene_fraction: float = 0.2  # uncertain pixels outside components, fraction of the frame
    scene_mean: float = 1.0  # the frame's mean uncertainty above this is a scene shift
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)  # when the image is degraded

    def __post_init__(self) -> None:
        for name in ("scene_fraction", "scene_mean"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"reason_{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class FrameReason:
    """One served frame's reason and what it was decided from."""

    reason: str
    components: Components
    evidence: ImageEvidence
    degraded_by: tuple[str, ...]  # the image statistics past their thresholds


def reason_from(has_object: bool, spread_fraction: float, mean_uncertainty: float,
                degraded: bool, config: ReasonConfig) -> str:
    """The reason of a served frame from its four facts (calibration evaluates many settings on
    them without the maps)."""
    has_scene = (degraded or spread_fraction > config.scene_fraction
                 or mean_uncertainty > config.scene_mean)
    if has_object and has_scene:
        return OBJECT_AND_SCENE
    return OBJECT if has_object else SCENE if has_scene else NONE


def frame_reason(image: np.ndarray, uncertainty: np.ndarray, labels: np.ndarray,
                 config: ReasonConfig, classifier: MetaClassifier | None = None) -> FrameReason:
    """The reason of one served frame: its camera image (RGB uint8, any size) and its model-size
    maps; `classifier`: the component meta classifier, if any."""
    components = find_components(uncertainty, labels, config.components, classifier)
    evidence = image_evidence(image)
    degraded_by = evidence.failing(config.evidence)
    return FrameReason(reason_from(bool(components.components), components.spread_fraction,
                                   components.mean_uncertainty, bool(degraded_by), config),
                       components, evidence, degraded_by)
