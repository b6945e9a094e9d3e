"""The schedule, with an injectable clock: each target fires at its interval (plus its jitter)."""

from __future__ import annotations

import random

from mssante_conformance.monitor.schedule import Schedule
from mssante_conformance.monitor.targets import MonitoredTarget


def target(name: str, every: int, jitter: int = 0) -> MonitoredTarget:
    return MonitoredTarget(name, name, ("imap://127.0.0.1:1",), None, None, None, (), "during", every, jitter)


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def simulate(schedule: Schedule, clock: Clock, until: float, step: float = 60) -> dict[str, list[float]]:
    fired: dict[str, list[float]] = {}
    while clock.t <= until:
        for t in schedule.due():
            fired.setdefault(t.name, []).append(clock.t)
            schedule.ran(t)
        clock.t += step
    return fired


def test_each_target_fires_at_its_interval():
    clock = Clock()
    start = clock.t
    schedule = Schedule([target("six", 6 * 3600), target("two", 2 * 3600)], clock=clock)
    fired = simulate(schedule, clock, start + 12 * 3600)
    assert [t - start for t in fired["six"]] == [0, 6 * 3600, 12 * 3600]
    assert [t - start for t in fired["two"]] == [h * 3600 for h in range(0, 13, 2)]


def test_jitter_spreads_runs_within_its_bound():
    clock = Clock()
    start = clock.t
    targets = [target(f"op{i}", 3600, jitter=600) for i in range(30)]
    schedule = Schedule(targets, clock=clock, rng=random.Random(7))
    firsts = sorted(schedule.next_at.values())
    assert all(start <= t <= start + 600 for t in firsts)
    assert len({round(t) for t in firsts}) > 20  # not all in the same second
    fired = simulate(schedule, clock, start + 4 * 3600, step=1)
    for times in fired.values():
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert len(times) >= 4 and all(3600 <= g <= 3600 + 600 + 1 for g in gaps), gaps


def test_nothing_due_before_time_and_wait_until_next():
    clock = Clock()
    schedule = Schedule([target("a", 3600)], clock=clock)
    assert [t.name for t in schedule.due()] == ["a"]
    schedule.ran(schedule.targets["a"])
    assert schedule.due() == []
    clock.t += 1800
    assert schedule.seconds_until_next() == 1800


def test_the_service_loop_runs_each_target_when_due(tmp_path, capsys):
    """`monitor` without --once, driven by a fake clock: rounds hold exactly the due targets."""
    import pytest

    from mssante_conformance.cli.monitor_cmd import _serve
    from mssante_conformance.monitor.history import MonitorHistory
    from mssante_conformance.monitor.runner import Monitor, TargetOutcome

    clock = Clock()
    start = clock.t
    rounds = []

    def run_target(target, report_dir, deadline, env=None, stop=None):
        return TargetOutcome(clock.t, clock.t, "error", None, None, "simulé")

    def sleep(seconds):
        clock.t += seconds
        if clock.t > start + 4 * 3600:
            raise KeyboardInterrupt

    history = MonitorHistory(tmp_path)
    monitor = Monitor(history, data_dir=tmp_path, run_target=run_target)
    original = monitor.run_round
    monitor.run_round = lambda due: rounds.append((clock.t - start, [t.name for t in due])) or original(due)
    targets = [target("hourly", 3600), target("two-hourly", 7200)]
    with pytest.raises(KeyboardInterrupt):
        _serve(monitor, targets, history, True, schedule=Schedule(targets, clock=clock), sleep=sleep)
    assert rounds == [(0, ["hourly", "two-hourly"]), (3600, ["hourly"]), (7200, ["hourly", "two-hourly"]),
                      (10800, ["hourly"]), (14400, ["hourly", "two-hourly"])]
    assert len(history.runs("hourly")) == 5 and len(history.runs("two-hourly")) == 3
    assert capsys.readouterr().out.count('"cibles"') == 5  # one JSON line per round
