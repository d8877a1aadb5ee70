"""What the node reports on /diagnostics, without ROS: the node and offline replay build the same
status from the same counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from .frame_loss import FrameLoss
from .frame_reason import INPUT, FrameReason
from .image_evidence import STATISTICS
from .scene_flag import REASON_STALE, FlagState

# diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR, STALE = 0, 1, 2, 3


@dataclass
class FrameStats:
    frames: int = 0  # served
    failures: int = 0
    last_latency_ms: float = float("nan")
    last_error: str = ""
    last_error_time: float = -1.0
    reason: dict[str, object] = field(default_factory=lambda: reason_values(INPUT, None,
                                                                             (1, 1)))


def scaled_box(box: tuple[int, int, int, int], model_shape: tuple[int, int],
               frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A model-size box (x, y, width, height) in the frame's pixels."""
    scale_y, scale_x = frame_shape[0] / model_shape[0], frame_shape[1] / model_shape[1]
    x, y, width, height = box
    left, top = round(x * scale_x), round(y * scale_y)
    return (left, top, max(round((x + width) * scale_x) - left, 1),
            max(round((y + height) * scale_y) - top, 1))


def reason_values(reason: str, judged: FrameReason | None,
                  frame_shape: tuple[int, int]) -> dict[str, object]:
    """The reason's diagnostics key values: the word, the component count, the largest
    component's area (fraction of the frame) and box (x y width height in frame pixels), and the
    image evidence (`image_<statistic>` frame values, `image_degraded`, `image_degraded_by`;
    empty for a frame that was not judged)."""
    found = judged.components.components if judged is not None else ()
    largest = found[0] if found else None
    box = "" if largest is None else " ".join(map(str, scaled_box(
        largest.box, judged.components.labels.shape, frame_shape)))
    area = 0.0 if largest is None else largest.area / judged.components.frame_pixels
    values: dict[str, object] = {"reason": reason, "components": len(found),
                                 "largest_component_area": f"{area:.5f}",
                                 "largest_component_box": box}
    evidence = judged.evidence.values if judged is not None else {}
    values.update({f"image_{name}": f"{evidence[name]:.4f}" if evidence else ""
                   for name in STATISTICS})
    values["image_degraded"] = str(bool(judged.degraded_by)).lower() if judged else ""
    values["image_degraded_by"] = ",".join(judged.degraded_by) if judged else ""
    return values


def diagnostic_status(state: FlagState, stats: FrameStats, dropped: int, loss: FrameLoss,
                      backend: str, now: float, period_s: float
                      ) -> tuple[int, str, dict[str, object]]:
    """(level, message, key values) of the node's DiagnosticStatus at time `now`: `dropped`
    frames were replaced by newer ones before the model got to them, `loss` counts the frames
    that never arrived."""
    recent_error = stats.last_error_time >= 0 and now - stats.last_error_time <= period_s
    if state.reason == REASON_STALE:
        level, text = STALE, "no input frames"
    elif recent_error:
        level, text = ERROR, stats.last_error
    elif state.raised:
        level, text = WARN, f"low-confidence scene ({state.reason})"
    else:
        level, text = OK, "ok"
    values = {"uncertain_fraction": f"{state.uncertain_fraction:.4f}",
              "low_confidence": str(state.raised).lower(), "flag_reason": state.reason,
              "latency_ms": f"{stats.last_latency_ms:.1f}", "frames": stats.frames,
              "dropped_frames": dropped, "lost_frames": loss.lost,
              "lost_frame_share": f"{loss.share:.3f}",
              "camera_period_ms": f"{1e3 * loss.period_s:.1f}", "failed_frames": stats.failures,
              "backend": backend, "last_error": stats.last_error}
    values.update(reason_values(INPUT, None, (1, 1)) if state.reason == REASON_STALE
                  else stats.reason)
    return level, text, values
