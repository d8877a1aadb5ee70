"""Why a frame is uncertain, in one word: pure Python, no ROS.

- `object`: at least one anomaly component (a compact uncertain region on drivable ground, see
  anomaly_components) — something on the road the model does not know (semantic shift);
- `scene`: the uncertainty is spread over the frame — the uncertain pixels outside the anomaly
  components exceed `scene_fraction` of the frame, or the frame's mean uncertainty exceeds
  `scene_mean` (a frame-level shift beyond what in-distribution driving shows): fog, glare, dirt
  on the lens, a new domain (covariate shift);
- `object+scene`: both;
- `input`: the frame could not be judged (it failed, or none came for `stale_timeout_s`);
- `none`: neither.
The reason is per frame, without hysteresis: the scene flag (`scene_flag`) says *whether* to act,
the reason says *what kind* of trouble the current frame shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .anomaly_components import ComponentConfig, Components, find_components
from .errors import ParameterError

OBJECT, SCENE, OBJECT_AND_SCENE, INPUT, NONE = "object", "scene", "object+scene", "input", "none"
REASONS = (NONE, OBJECT, SCENE, OBJECT_AND_SCENE, INPUT)


@dataclass(frozen=True)
class ReasonConfig:
    components: ComponentConfig = field(default_factory=ComponentConfig)
    scene_fraction: float = 0.2  # uncertain pixels outside components, fraction of the frame
    scene_mean: float = 1.0  # the frame's mean uncertainty above this is a scene shift

    def __post_init__(self) -> None:
        for name in ("scene_fraction", "scene_mean"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"reason_{name} must be in [0, 1], got {value}")


def reason_of(components: Components | None, config: ReasonConfig) -> str:
    """The reason of a frame with these components (None: the frame failed or is missing)."""
    if components is None:
        return INPUT
    return reason_from(bool(components.components), components.spread_fraction,
                       components.mean_uncertainty, config)


def reason_from(has_object: bool, spread_fraction: float, mean_uncertainty: float,
                config: ReasonConfig) -> str:
    """The reason of a served frame from its three numbers (calibration evaluates many settings
    on them without the maps)."""
    has_scene = spread_fraction > config.scene_fraction or mean_uncertainty > config.scene_mean
    if has_object and has_scene:
        return OBJECT_AND_SCENE
    return OBJECT if has_object else SCENE if has_scene else NONE


def frame_reason(uncertainty: np.ndarray, labels: np.ndarray, config: ReasonConfig
                 ) -> tuple[str, Components]:
    """(reason, components) of one served frame, on its model-size maps."""
    components = find_components(uncertainty, labels, config.components)
    return reason_of(components, config), components
