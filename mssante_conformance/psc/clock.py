"""Clocks: the bouchon reads time only through an injected ``Clock`` so tests need not wait."""

from __future__ import annotations

import threading
import time
from typing import Callable

Clock = Callable[[], float]  # seconds since the epoch


def system_clock() -> float:
    return time.time()


class ManualClock:
    """A clock that moves only when told to (tests of session idle/max expiry, token expiry)."""

    def __init__(self, start: float | None = None):
        self._now = float(start if start is not None else time.time())
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
