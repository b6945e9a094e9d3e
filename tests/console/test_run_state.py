"""A run's final state comes from its report; a lost process without report is interrupted."""

import json
import subprocess
import sys
import time

import pytest

from mssante_conformance.console.store import ConsoleStore
from mssante_conformance.console.worker import RunWorker, final_state, process_alive


def test_report_verdict_wins():
    assert final_state(1, {"verdict": "non_conforme_majeure"}) == ("finished", "non_conforme_majeure", "")
    assert final_state(None, {"verdict": "conforme"})[:2] == ("finished", "conforme")


@pytest.mark.parametrize("code", [None, 0, 1, -9, -15])
def test_no_report_is_never_passed(code):
    status, verdict, message = final_state(code, None)
    assert status == "interrupted" and verdict is None and message


def test_usage_error_and_nothing_run_are_failures():
    assert final_state(2, None)[0] == "failed"
    assert final_state(3, None)[0] == "failed"


def test_timeout_is_interrupted_even_with_a_clean_exit_code():
    assert final_state(0, None, timed_out=True)[0] == "interrupted"


def _add_running(store, tmp_path, run_id, pid):
    run_dir = tmp_path / run_id
    (run_dir / "rapport").mkdir(parents=True)
    store.add_run(run_id, "alice", "api-lps-tls", "reference", {}, [], run_dir)
    store.update_run(run_id, status="running", pid=pid, started_at=time.time())
    return run_dir


def test_restart_marks_a_crashed_run_interrupted(tmp_path):
    store = ConsoleStore(tmp_path / "db")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_dir = _add_running(store, tmp_path, "crashed", dead.pid)
    (run_dir / "rapport" / "progress.jsonl").write_text(
        json.dumps({"id": "LPS-TLS-01", "outcome": "passed", "reason": "", "duration_s": 0.1}) + "\n")
    finished_dir = _add_running(store, tmp_path, "finished-before-crash", dead.pid)
    (finished_dir / "rapport" / "report.json").write_text(json.dumps({"verdict": "conforme"}))
    worker = RunWorker(store)
    try:
        worker.recover()
    finally:
        worker.shutdown()
    crashed = store.run("crashed")
    assert crashed.status == "interrupted" and crashed.verdict is None
    assert "disparu" in crashed.message
    done = store.run("finished-before-crash")
    assert (done.status, done.verdict) == ("finished", "conforme")


def test_process_alive_refuses_a_recycled_pid(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(tmp_path / "run")])
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd (its cmdline is ours before)
        while not process_alive(proc.pid, str(tmp_path / "run")) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process_alive(proc.pid, str(tmp_path / "run"))
        assert not process_alive(proc.pid, str(tmp_path / "another-run"))
    finally:
        proc.kill()
        proc.wait()
    assert not process_alive(proc.pid, str(tmp_path / "run"))
