"""When each target is due: its interval (``every``) plus a random jitter, per target.

Pure and clock-injected: ``Schedule(targets, clock=…, rng=…)``; the service loop asks
:meth:`Schedule.due` and reports each run with :meth:`Schedule.ran`. The first run of each
target happens at start plus a jitter, so thirty operators watched every six hours are not all
probed in the same second.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable

from mssante_conformance.monitor.targets import MonitoredTarget


class Schedule:
    def __init__(self, targets: Iterable[MonitoredTarget], *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None):
        self.clock = clock
        self.rng = rng or random.Random()
        self.targets = {t.name: t for t in targets}
        start = clock()
        self.next_at = {name: start + self._jitter(t) for name, t in self.targets.items()}

    def _jitter(self, target: MonitoredTarget) -> float:
        return self.rng.uniform(0, target.jitter) if target.jitter else 0.0

    def due(self) -> list[MonitoredTarget]:
        """Targets whose next run time has come, earliest first."""
        now = self.clock()
        names = sorted((at, name) for name, at in self.next_at.items() if at <= now)
        return [self.targets[name] for _, name in names]

    def ran(self, target: MonitoredTarget, at: float | None = None) -> float:
        """Record that ``target`` started a run at ``at`` (default now); returns its next time."""
        at = self.clock() if at is None else at
        self.next_at[target.name] = at + target.every + self._jitter(target)
        return self.next_at[target.name]

    def seconds_until_next(self) -> float:
        return max(0.0, min(self.next_at.values()) - self.clock()) if self.next_at else float("inf")
