"""What the node reports on /diagnostics, without ROS: the node and offline replay build the same
status from the same counters."""

from __future__ import annotations

from dataclasses import dataclass

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


def diagnostic_status(state: FlagState, stats: FrameStats, dropped: int, backend: str,
                      now: float, period_s: float) -> tuple[int, str, dict[str, object]]:
    """(level, message, key values) of the node's DiagnosticStatus at time `now`."""
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
              "dropped_frames": dropped, "failed_frames": stats.failures,
              "backend": backend, "last_error": stats.last_error}
    return level, text, values
