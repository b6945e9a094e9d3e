"""Run the monitoring profile against due targets: concurrently, bounded, each within a deadline.

Each target's run is ``mssante-conformance run --profile monitoring …`` in its own process
group, exactly what the console's worker launches for its Monitoring Job (same command, same
report files, same reading of ``report.json``): the monitor adds no second way of running
checks. A target that has not finished at its deadline is stopped (SIGTERM, then SIGKILL of its
process group) and recorded ``error``; it holds one slot of the pool and nothing else, so it
never delays the other targets beyond that.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mssante_conformance.console.worker import log_tail, read_report, terminate_group
from mssante_conformance.monitor.alerts import Alerter
from mssante_conformance.monitor.history import MonitorHistory, MonitorRun
from mssante_conformance.monitor.targets import MonitoredTarget

DEFAULT_MAX_PARALLEL = 8
DEFAULT_DEADLINE_S = 15 * 60
KILL_GRACE_S = 3
LOG_TAIL = 400


@dataclass(frozen=True)
class TargetOutcome:
    """What one target's run produced, before it is recorded."""

    started_at: float
    finished_at: float
    status: str  # finished | error
    report: dict | None
    report_path: str | None
    message: str


def new_round_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def run_command(target: MonitoredTarget, report_dir: Path) -> list[str]:
    return [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir),
            *target.run_flags()]


def run_target(target: MonitoredTarget, report_dir: Path, deadline: float,
               env: dict | None = None, stop: threading.Event | None = None) -> TargetOutcome:
    """One target's monitoring run, ended ``error`` at ``deadline`` seconds at the latest."""
    report_dir.mkdir(parents=True, exist_ok=True)
    log_path = report_dir.parent / "run.log"
    started = time.time()
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(run_command(target, report_dir), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        except OSError as exc:
            return TargetOutcome(started, time.time(), "error", None, None,
                                 f"lancement impossible : {exc.strerror or exc}")
        timed_out = interrupted = False
        end = started + deadline
        while proc.poll() is None:
            if stop is not None and stop.is_set():
                interrupted = True
                break
            if time.time() >= end:
                timed_out = True
                break
            time.sleep(0.2)
        if timed_out or interrupted:
            terminate_group(proc, KILL_GRACE_S)
    report = read_report(report_dir)
    finished = time.time()
    if timed_out:
        return TargetOutcome(started, finished, "error", None, None,
                             f"délai dépassé : pas de rapport après {deadline:.0f} s, lancement arrêté")
    if interrupted:
        return TargetOutcome(started, finished, "error", None, None, "tour de supervision interrompu")
    if report is None or not isinstance(report.get("verdict"), str):
        said = log_tail(log_path, LOG_TAIL, empty="journal vide")
        return TargetOutcome(started, finished, "error", None, None,
                             f"aucun rapport (code de sortie {proc.returncode}) : {said}")
    checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    if not any(c.get("outcome") in ("passed", "failed") for c in checks):
        # every check in error (unreachable, refused connections…): the run decided nothing
        why = next((str(c.get("reason", "")) for c in checks if c.get("outcome") == "error"), "")
        return TargetOutcome(started, finished, "error", report, str(report_dir / "report.html"),
                             f"aucun contrôle mené jusqu'au bout : {why}"[:LOG_TAIL])
    return TargetOutcome(started, finished, "finished", report,
                         str(report_dir / "report.html"), "")


class Monitor:
    """A monitoring round: due targets run in a pool of ``max_parallel``, each result recorded in
    the history as soon as it arrives (then alerted if it regressed)."""

    def __init__(self, history: MonitorHistory, *, data_dir: Path, alerter: Alerter | None = None,
                 max_parallel: int = DEFAULT_MAX_PARALLEL, deadline: float = DEFAULT_DEADLINE_S,
                 env: dict | None = None, run_target: Callable[..., TargetOutcome] = run_target):
        if max_parallel < 1:
            raise ValueError("max_parallel >= 1")
        self.history = history
        self.data_dir = Path(data_dir)
        self.alerter = alerter or Alerter()
        self.max_parallel = max_parallel
        self.deadline = deadline
        self.env = env
        self.stop = threading.Event()
        self._run_target = run_target

    def run_round(self, targets: Iterable[MonitoredTarget],
                  on_result: Callable[[MonitorRun], None] | None = None) -> list[MonitorRun]:
        targets = list(targets)
        round_id = new_round_id()
        results: list[MonitorRun] = []
        lock = threading.Lock()

        def one(target: MonitoredTarget) -> None:
            report_dir = self.data_dir / "monitor" / target.name / round_id / "rapport"
            outcome = self._run_target(target, report_dir, target.deadline or self.deadline, env=self.env,
                                       stop=self.stop)
            run = self._record(round_id, target, outcome)
            with lock:
                results.append(run)
            self.alerter.regression(run, _titles(outcome.report))
            if on_result:
                on_result(run)

        with ThreadPoolExecutor(max_workers=min(self.max_parallel, max(1, len(targets))),
                                thread_name_prefix="monitor") as pool:
            futures = [pool.submit(one, t) for t in targets]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # Ctrl-C / SIGTERM: the runs in flight stop their process groups, the queued
                # ones never start (otherwise the pool would wait for every deadline)
                self.stop.set()
                for future in futures:
                    future.cancel()
                raise
        order = {t.name: i for i, t in enumerate(targets)}
        return sorted(results, key=lambda r: order[r.target])

    def _record(self, round_id: str, target: MonitoredTarget, outcome: TargetOutcome) -> MonitorRun:
        report = outcome.report or {}
        checks = report.get("checks", []) if isinstance(report.get("checks"), list) else []
        return self.history.record(
            round_id=round_id, target=target.name, organisation=target.organisation,
            started_at=outcome.started_at, finished_at=outcome.finished_at, status=outcome.status,
            verdict=report.get("verdict"), report_path=outcome.report_path,
            harness_version=report.get("harness_version"), catalog_version=report.get("catalog_version"),
            message=outcome.message,
            outcomes={c["id"]: c["outcome"] for c in checks if isinstance(c, dict) and "id" in c},
            reasons={c["id"]: str(c.get("reason", "")) for c in checks if isinstance(c, dict) and "id" in c})


def _titles(report: dict | None) -> dict[str, str]:
    checks = (report or {}).get("checks", [])
    return {c["id"]: c.get("title", "") for c in checks if isinstance(c, dict) and "id" in c}
