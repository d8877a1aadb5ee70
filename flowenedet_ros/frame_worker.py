"""One worker thread serving the latest frame: a slow model never builds a queue.

`submit` replaces a frame still waiting (counting it as dropped); the worker always takes the
newest. Pure Python (threading only), shared by the node and its tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger(__name__)


class LatestFrameWorker:
    def __init__(self, handle: Callable[[Any], None], name: str = "flowenedet-worker") -> None:
        self._handle = handle
        self._condition = threading.Condition()
        self._pending: Any = None
        self._stopping = False
        self.dropped = 0  # frames replaced before the worker got to them
        self.received = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        with self._condition:
            self.received += 1
            if self._pending is not None:
                self.dropped += 1
            self._pending = item
            self._condition.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._condition:
                while self._pending is None and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    return
                item, self._pending = self._pending, None
            try:
                self._handle(item)
            except Exception:  # the handler reports its own errors; this keeps the thread alive
                LOGGER.exception("frame handler failed")
