"""Frames that never arrived, estimated from the camera's own header stamps.

A camera stamps its frames at a steady period; frames lost on the way (best-effort transport of
large images, full socket buffers) leave gaps of whole periods between the stamps that do arrive.
The period is a low quantile of the recent stamp deltas: lost frames only lengthen deltas, so it
stays right even when a third of the frames are lost (a median would not: half the deltas are
then double). A gap of k periods counts k - 1 lost frames; the gaps seen before the period is
known are judged once it is. A gap of more than `MAX_GAP_PERIODS` periods is a pause of the camera
(the stale-input flag reports it), not loss; stamps that go back (a replayed bag that restarts)
start the estimate afresh. When most frames are lost the deltas rarely span one period, so the
period is overestimated and the loss underestimated (the stale flag still fires). Pure Python:
the node feeds it, tests drive it directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

WINDOW = 50  # recent deltas the period is estimated from
MIN_DELTAS = 4  # no estimate (and no loss counted) before this many deltas
PERIOD_QUANTILE = 25  # percent
MAX_GAP_PERIODS = 100  # a longer gap is a pause, not loss
WARN_SHARE = 0.05  # loss share that deserves the warning
WARN_MIN_FRAMES = 20  # expected frames before the share is judged


@dataclass(frozen=True)
class FrameLoss:
    received: int  # frames whose stamps were seen
    lost: int  # frames estimated to have been sent but never received
    period_s: float  # the camera's estimated period; NaN before the estimate

    @property
    def share(self) -> float:
        """Lost frames over the frames the camera sent (received + lost)."""
        expected = self.received + self.lost
        return self.lost / expected if expected else 0.0


class FrameLossEstimator:
    def __init__(self, window: int = WINDOW) -> None:
        self._deltas: deque[float] = deque(maxlen=window)
        self._unjudged: list[tuple[float, int]] = []  # (delta, unstamped frames inside it)
        self._last_stamp: float | None = None
        self._unstamped = 0  # frames received since the last stamp whose stamps are unknown
        self.received = 0
        self.lost = 0

    def period_s(self) -> float:
        if len(self._deltas) < MIN_DELTAS:
            return float("nan")
        return float(np.percentile(self._deltas, PERIOD_QUANTILE))

    def update(self, stamp_s: float) -> int:
        """Count one received frame stamped `stamp_s` (seconds); returns the frames estimated
        lost before it (including earlier gaps judged now that the period is known)."""
        self.received += 1
        last, self._last_stamp = self._last_stamp, stamp_s
        between, self._unstamped = self._unstamped, 0
        if last is None or stamp_s == last:
            return 0  # the first frame, or a repeated stamp (an unstamped publisher)
        delta = stamp_s - last
        if delta < 0:
            self._deltas.clear()  # the stamps went back: a new sequence
            self._unjudged.clear()
            return 0
        if not between:
            self._deltas.append(delta)
        self._unjudged.append((delta, between))
        period = self.period_s()
        if not period > 0:
            return 0
        missing = sum(max(round(gap / period) - 1 - inside, 0)
                      for gap, inside in self._unjudged if gap <= MAX_GAP_PERIODS * period)
        self._unjudged.clear()
        self.lost += missing
        return missing

    def update_unstamped(self) -> None:
        """Count a frame that arrived but whose stamp cannot be read (an undecodable message in
        a bag): the gap it sits in is one frame shorter."""
        self.received += 1
        self._unstamped += 1

    def snapshot(self) -> FrameLoss:
        return FrameLoss(self.received, self.lost, self.period_s())


def loss_warning(loss: FrameLoss, topic: str, reliability: str) -> str | None:
    """The warning, with cause and remedy, when the loss is high enough to act on; else None."""
    if loss.received + loss.lost < WARN_MIN_FRAMES or loss.share <= WARN_SHARE:
        return None
    remedy = ("set qos_reliability:=reliable (with a reliable publisher), "
              if reliability != "reliable" else "")
    return (f"{loss.lost} of {loss.received + loss.lost} frames on {topic} never arrived "
            f"({100 * loss.share:.0f} %, from gaps in their header stamps against the camera's "
            f"{1e3 * loss.period_s:.1f} ms period): large images are lost in transport; "
            f"{remedy}use a shared-memory transport (same host), or raise the socket receive "
            "buffers (sysctl net.core.rmem_max and net.core.rmem_default, e.g. 2147483647)")
