"""Background execution of runs: a thread pool launching ``python -m mssante_conformance.cli run``.

Theory of operation
-------------------
* A run is recorded ``queued`` in SQLite before it is handed to the pool, so a console restart
  finds it again (:meth:`RunWorker.recover` re-queues it).
* One run at a time per target (``target_key``): a pool thread takes the target's lock before
  starting the subprocess; until then the run stays ``queued``. The lock is a thread lock plus
  an ``flock`` on ``<console-dir>/runs/target-<digest>.lock``, so it holds across the bouchon's
  gunicorn worker processes (``bouchon --workers N``) too.
* The subprocess writes ``progress.jsonl`` then ``report.json`` in the run's report dir; the
  console reads them, it never parses the subprocess's output for results.
* The final state comes from the report, never from the exit code alone:
  :func:`final_state` is pure and unit-tested. A run whose process is gone without a report is
  ``interrupted`` — never shown as passed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mssante_conformance.console.store import ConsoleStore, Run, RunStatus
from mssante_conformance.exits import EXIT_NO_VERDICT, EXIT_USAGE, PROGRESS_FILE

RUN_TIMEOUT_S = 45 * 60
STDERR_TAIL = 2000


def final_state(exit_code: int | None, report: dict | None, *,
                timed_out: bool = False) -> tuple[RunStatus, str | None, str]:
    """``(status, verdict, message)`` of a run whose process has ended (or is gone).

    ``exit_code`` None means the process was lost (console crash, machine restart).
    """
    if report is not None and isinstance(report.get("verdict"), str):
        return RunStatus.FINISHED, report["verdict"], ""
    if timed_out:
        return RunStatus.INTERRUPTED, None, "Lancement arrêté : durée maximale dépassée"
    if exit_code is None:
        return RunStatus.INTERRUPTED, None, "Lancement interrompu (processus disparu sans rapport)"
    if exit_code == EXIT_USAGE:
        return RunStatus.FAILED, None, "Paramètres refusés par le harnais"
    if exit_code == EXIT_NO_VERDICT:
        return RunStatus.FAILED, None, "Aucun contrôle n'a été mené (suites absentes ou toutes désélectionnées)"
    if exit_code < 0:
        return RunStatus.INTERRUPTED, None, f"Lancement interrompu (signal {-exit_code})"
    return RunStatus.INTERRUPTED, None, f"Lancement terminé sans rapport (code {exit_code})"


def read_report(report_dir: Path) -> dict | None:
    try:
        data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_progress(report_dir: Path) -> list[dict]:
    """The checks finished so far (a line still being written is skipped)."""
    try:
        text = (report_dir / PROGRESS_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            out.append(item)
    return out


def process_alive(pid: int | None, run_dir: str) -> bool:
    """Is ``pid`` still our run's process (not a recycled pid)?"""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if ") Z" in stat:  # zombie: finished
        return False
    return any(arg.decode(errors="replace").startswith(run_dir) for arg in cmdline)


class RunWorker:
    def __init__(self, store: ConsoleStore, max_workers: int = 4, env: dict | None = None):
        self.store = store
        self.env = env
        self._max_workers = max_workers
        self._pid = os.getpid()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="console-run")
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._children: dict[str, subprocess.Popen] = {}

    @contextlib.contextmanager
    def _target_lock(self, key: str):
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        name = "target-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24] + ".lock"
        path = self.store.data_dir / "runs" / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with lock, open(path, "a") as handle:  # other processes of the same console wait here
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _pool_of_this_process(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # a forked gunicorn worker: the parent's pool threads are gone
            self._pid = os.getpid()
            self._pool = ThreadPoolExecutor(max_workers=self._max_workers,
                                            thread_name_prefix="console-run")
            self._children = {}
        return self._pool

    def submit(self, run_id: str) -> None:
        self._pool_of_this_process().submit(self._execute, run_id)

    def recover(self) -> None:
        """At start-up: settle runs left ``running`` by a previous console; re-queue ``queued``."""
        for run in self.store.runs_with_status(RunStatus.RUNNING):
            if process_alive(run.pid, run.run_dir):
                self._pool_of_this_process().submit(self._adopt, run.id)
            else:
                self._settle(run, exit_code=None)
        for run in self.store.runs_with_status(RunStatus.QUEUED):
            self.submit(run.id)

    def shutdown(self, kill: bool = True) -> None:
        if kill:
            for proc in list(self._children.values()):
                terminate_group(proc)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ internals
    def _execute(self, run_id: str) -> None:
        run = self.store.run(run_id)
        if run is None or run.status != RunStatus.QUEUED:
            return
        with self._target_lock(run.target_key):
            run.report_dir.mkdir(parents=True, exist_ok=True)
            log = open(Path(run.run_dir) / "run.log", "wb")
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "mssante_conformance.cli", "run", *run.argv],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=run.run_dir, env=self.env, start_new_session=True)
            except OSError as exc:
                log.close()
                self.store.update_run(run_id, status=RunStatus.FAILED, finished_at=time.time(),
                                      message=f"Lancement impossible : {exc.strerror}")
                return
            self._children[run_id] = proc
            self.store.update_run(run_id, status=RunStatus.RUNNING, started_at=time.time(), pid=proc.pid)
            timed_out = False
            try:
                proc.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                timed_out = True
                terminate_group(proc)
            finally:
                log.close()
                self._children.pop(run_id, None)
            self._settle(self.store.run(run_id), proc.returncode, timed_out=timed_out)

    def _adopt(self, run_id: str) -> None:
        """Watch a run whose process outlived a previous console (not our child: poll)."""
        run = self.store.run(run_id)
        with self._target_lock(run.target_key):
            deadline = (run.started_at or time.time()) + RUN_TIMEOUT_S
            while process_alive(run.pid, run.run_dir) and time.time() < deadline:
                time.sleep(0.5)
            self._settle(run, exit_code=None)

    def _settle(self, run: Run, exit_code: int | None, timed_out: bool = False) -> None:
        status, verdict, message = final_state(exit_code, read_report(run.report_dir),
                                               timed_out=timed_out)
        if status == RunStatus.FAILED and exit_code == EXIT_USAGE:
            message += " : " + log_tail(Path(run.run_dir) / "run.log")
        self.store.update_run(run.id, status=status, verdict=verdict, message=message,
                              exit_code=exit_code, finished_at=time.time())


def terminate_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a run started as its own process group: SIGTERM (the run writes its report), then
    SIGKILL after ``grace`` seconds; the group leader is reaped either way."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def log_tail(path: Path, limit: int = STDERR_TAIL, empty: str = "") -> str:
    """What a run's log says last: its last line naming an error, else its last line."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if "erreur" in line.lower()]
    return (errors[-1] if errors else (lines[-1] if lines else empty))[-limit:]
