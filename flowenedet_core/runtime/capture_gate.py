"""One CUDA graph capture at a time, with no other frame-path work in the process meanwhile.

CUDA's default capture mode makes a synchronise, an allocation or a pinned-buffer copy from any
thread an error while a stream captures, and the capture fails with it. Several cameras' frame
paths in one process (the benchmark's concurrent cameras, a node serving two cameras) each run
in their own thread and capture each new frame shape lazily, so a capture must wait for the runs
in flight and hold the others back until it is done: a readers-writer gate, captures first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CaptureGate:
    """`running()` around a replay or an eager run, `capturing()` around a warm-up + capture.

    Runs share the gate; a capture has it alone and is let in before runs that arrive after it
    asked (so a steady stream of runs cannot starve it). Not reentrant: a thread must not ask
    for `capturing()` inside its own `running()`."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._running = 0
        self._waiting_captures = 0
        self._capturing = False

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._capturing and not self._waiting_captures)
            self._running += 1
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()

    @contextmanager
    def capturing(self) -> Iterator[None]:
        with self._condition:
            self._waiting_captures += 1
            self._condition.wait_for(lambda: not self._capturing and not self._running)
            self._waiting_captures -= 1
            self._capturing = True
        try:
            yield
        finally:
            with self._condition:
                self._capturing = False
                self._condition.notify_all()


GATE = CaptureGate()  # the process's: CUDA's capture rule is process-wide
