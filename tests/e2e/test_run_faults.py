"""A run as a whole: no token anywhere, faults end as `error` (never pass/fail), reproducibility."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.report import compare, load_report

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "mssante_conformance" / "suites"


def test_no_minted_token_appears_in_reports_stores_logs_or_output(tmp_path):
    result = tmp_path / "leakprobe.json"
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {**os.environ, "LEAKPROBE_RESULT": str(result), "LEAKPROBE_STDOUT": str(out),
           "LEAKPROBE_STDERR": str(err), "PYTHONPATH": str(REPO)}
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", str(SUITES), "-c", str(SUITES / "pytest.ini"),
             "--rootdir", str(SUITES), "-p", "no:cacheprovider", "-p", "tests.e2e.leakprobe",
             "-v", "-k", "test_imap or test_smtp", "--report-dir", str(tmp_path / "report")],
            stdout=o, stderr=e, env=env, cwd=REPO, timeout=600)
    assert result.is_file(), out.read_text()[-3000:] + err.read_text()[-3000:]
    probe = json.loads(result.read_text())
    assert probe["leaks"] == {}
    # the probe looked where tokens could have gone, and the run minted many of them
    assert probe["secrets"] >= 40
    scanned = " ".join(probe["scanned"])
    for where in ("report.json", "report.html", "progress.jsonl", "dovecot.log", "token-adapter.log",
                  "postfix.log", "stdout"):
        assert where in scanned, where
    assert any(name.endswith(".sqlite3") or name.endswith(".db") for name in probe["scanned"]), scanned
    assert proc.returncode == 0, out.read_text()[-3000:]


def run(tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "run",
                           "--report-dir", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_unknown_scheme_is_a_usage_error(tmp_path):
    proc = run(tmp_path, "--operator-url", "pop3://127.0.0.1:110")
    assert proc.returncode == 2
    assert "schéma inconnu" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.fixture
def not_imap_server():
    """A loopback server that greets like an HTTP server and then says nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_unreachable_and_wrong_servers_end_as_errors_and_the_run_is_incomplete(tmp_path, not_imap_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    proc = run(tmp_path, "--operator-url", f"imaps://127.0.0.1:{closed_port}",
               "--operator-url", f"smtp://127.0.0.1:{not_imap_server}",
               "--bal", "jean.dupont@op.test", "--idnat", "899700366240",
               "--network-timeout", "2", "-k", "api_lps")
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 3, proc.stdout[-3000:]
    report = load_report(tmp_path / "report.json")
    assert report["verdict"] == "incomplet"
    by_id = {c["id"]: c for c in report["checks"]}
    # nothing was exercised, so nothing may pass or fail
    assert {c["outcome"] for c in by_id.values()} <= {"error", "not_applicable"}, {
        k: (c["outcome"], c["reason"]) for k, c in by_id.items()}
    assert "refus" in by_id["LPS-IMAP-03"]["reason"] or "connexion" in by_id["LPS-IMAP-03"]["reason"]
    assert "n'est pas un serveur SMTP" in by_id["LPS-SMTP-03"]["reason"], by_id["LPS-SMTP-03"]["reason"]
    assert all("\n" not in c["reason"] and c["reason"] for c in by_id.values())
    # LPS-CERT needs a client certificate that was not given
    assert by_id["LPS-CERT-01"]["outcome"] == "not_applicable"


def test_two_runs_against_the_reference_give_the_same_verdict_and_outcomes(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir",
                               str(tmp_path / name), "--scope", "api_lps", "-k", "test_imap or test_auth_cli",
                               *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name, extra in (("a", ["--pdf"]), ("b", []))]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    # IMAP and AUTH_CLI only: the rest of the API LPS scope did not run, so "incomplet" (exit 3)
    assert [p.returncode for p in procs] == [3, 3], outputs[0][-2000:] + outputs[1][-2000:]
    a, b = load_report(tmp_path / "a" / "report.json"), load_report(tmp_path / "b" / "report.json")
    assert compare(a, b) == []

    catalog = load_catalog()  # every IMAP and AUTH_CLI check of the catalog, and no other
    expected = {c.id for c in [*catalog.checks_of("LPS-IMAP"), *catalog.checks_of("LPS-CERT")]}
    assert {c["id"] for c in a["checks"]} == expected
    assert a["verdict"] == "incomplet" and {c["id"][:8] for c in a["not_run_in_scope"]} == {
        "LPS-SMTP", "LPS-TLS-"}
    # the PDF of a real run (real transcripts, not synthetic evidence) is written and readable
    text = subprocess.run(["pdftotext", str(tmp_path / "a" / "report.pdf"), "-"], capture_output=True,
                          text=True, timeout=60).stdout
    assert "CONFORME" in text.upper()
    assert all(c["id"] in text for c in a["checks"])


def _reference_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "mssante-ref-"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_sigterm_mid_run_leaves_no_server_behind(tmp_path):
    import signal
    import time

    before = _reference_pids()
    proc = subprocess.Popen([sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir",
                             str(tmp_path), "-k", "test_imap"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    started: set = set()
    while not started and time.monotonic() < deadline:
        time.sleep(0.2)
        started = (_children(proc.pid) & _reference_pids()) - before  # this run's, not another's
    assert started, "the reference operator never started"
    time.sleep(1)
    started |= {d for p in started for d in _children(p)}
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert "Traceback" not in out
    time.sleep(0.5)
    assert not (_reference_pids() & started), f"left behind: {_reference_pids() & started}"


def _listening_addresses(pids: set[int]) -> set[tuple[str, int]]:
    """The TCP addresses these processes listen on (from `ss -ltnp`)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 6 or not any(f"pid={p}," in fields[-1] for p in pids):
            continue
        host, _, port = fields[3].rpartition(":")
        found.add((host.strip("[]"), int(port)))
    return found


def test_sigkill_mid_run_leaves_no_server_behind_and_frees_the_ports(tmp_path):
    """The OOM killer or a CI timeout: no chance to tear down, yet nothing may be left."""
    import signal
    import time

    from mssante_conformance.reference.processes import is_listening

    before = _reference_pids()
    proc = subprocess.Popen([sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir",
                             str(tmp_path), "-k", "test_imap"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    addresses: set = set()
    started: set = set()
    while len(addresses) < 5 and time.monotonic() < deadline:  # IMAP, IMAPS, SMTP, SMTPS, MX
        time.sleep(0.2)
        # this run's daemons only (other runs may share the machine): descendants of `run`
        started = (_children(proc.pid) & _reference_pids()) - before
        addresses = _listening_addresses(started)
    assert started and len(addresses) >= 5, f"the reference never listened: {addresses}"
    started |= {d for p in started for d in _children(p)}
    time.sleep(1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        if not (_reference_pids() & started) and not any(is_listening(*a) for a in addresses):
            break
        time.sleep(0.1)
    print(f"\nafter SIGKILL of `run`: daemons gone and ports free in {time.monotonic() - t0:.2f} s "
          f"({len(started)} processes, {len(addresses)} listening addresses)")
    assert not (_reference_pids() & started), f"left behind: {_reference_pids() & started}"
    assert not [a for a in addresses if is_listening(*a)], addresses


def _children(pid: int) -> set[int]:
    from mssante_conformance.reference.processes import descendants

    return descendants({pid})
