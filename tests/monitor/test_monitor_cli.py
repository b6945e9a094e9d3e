"""The `monitor` command's surface: usage errors in one French line (exit 2), the French table,
the exit status from the round's results."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mssante_conformance.cli.monitor_cmd import exit_code, render_table
from mssante_conformance.monitor.history import Changes, MonitorRun


def run(*args):
    return subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "monitor", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("extra, words", [
    ((), "lecture impossible"),
    (("--max-parallel", "0"), "--max-parallel"),
    (("--webhook", "ftp://x"), "--webhook"),
])
def test_usage_errors_are_one_line(tmp_path, extra, words):
    proc = run("--targets", str(tmp_path / "absent.toml"), "--once", "--data-dir", str(tmp_path), *extra)
    assert proc.returncode == 2 and words in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_targets_file_names_the_target_and_key(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text('[[targets]]\nname = "op-x"\noperator_urls = ["imap://h:1"]\nevery = "demain"\n')
    proc = run("--targets", str(path), "--once", "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "'op-x'" in proc.stderr and "every" in proc.stderr


def mrun(target, status="finished", outcomes=None, changes=Changes(), message=""):
    return MonitorRun(1, "r", target, target, 0.0, 42.0, status,
                      "conforme" if status == "finished" else None, "/x/report.html", "1", "c",
                      message, outcomes or {}, {}, changes)


def test_table_and_exit_status():
    ok = mrun("op-a", outcomes={"A": "passed", "B": "passed"})
    regressed = mrun("op-b", outcomes={"A": "failed"}, changes=Changes(("A",), ()))
    down = mrun("op-c", status="error", message="délai dépassé")
    table = render_table([ok, regressed, down])
    assert table.splitlines()[0].split()[:4] == ["Cible", "Statut", "Verdict", "Réussis"]
    assert "op-c : délai dépassé" in table and "3 cible(s), 1 avec régression" in table
    assert exit_code([ok, regressed, down]) == 1
    assert exit_code([ok, down]) == 0
    assert exit_code([down]) == 3


def test_sigterm_ends_a_round_at_once_with_130(tmp_path):
    """A round against a target that never answers (deadline 600 s): SIGTERM ends it within
    seconds, exit 130, and the run's process group is gone."""
    import os
    import signal
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    path = tmp_path / "targets.toml"
    path.write_text(f'[[targets]]\nname = "muet"\noperator_urls = ["imaps://127.0.0.1:{silent.getsockname()[1]}"]\n')
    proc = subprocess.Popen([sys.executable, "-m", "mssante_conformance.cli", "monitor", "--once",
                             "--targets", str(path), "--data-dir", str(tmp_path), "--deadline", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        log = tmp_path / "monitor" / "muet"
        for _ in range(100):  # until the target's run has started
            if list(log.glob("*/run.log")):
                break
            time.sleep(0.1)
        time.sleep(1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and "interrompu" in err
        # Far under the target's 600 s deadline: the signal, not the deadline, ended the round
        # (a loose bound, so that a loaded CI machine does not make it flaky).
        assert time.monotonic() - t0 < 90
        assert [p for p in os.listdir("/proc") if p.isdigit() and str(tmp_path).encode() in _cmdline(p)] == []
    finally:
        proc.kill()
        silent.close()


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:  # gone meanwhile
        return b""
