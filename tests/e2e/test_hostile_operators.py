"""A run against hostile servers ends, writes its report, and says why each check could not be
carried out: bounded time whatever the server does (deadline per check, circuit breaker).

Each case runs the whole API LPS suite (``mssante-conformance run``, embedded bouchon) against
a pair of hostile listeners of ``hostile_peers`` (IMAP and SMTP). The five runs go at once (each
mostly waits on its server), each against its own listeners. The subprocess timeout is a hang
guard only; the measured durations are printed, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.hostile_peers import HostilePeers, write_tls_material

HANG_GUARD_S = 900
BAL, IDNAT = "jean.dupont@op.test", "899700366240"

# behaviour → (what the reasons of the checks that touched the server must say, exit codes)
CASES = {
    "mute": (("injoignable", "rien répondu"), {3}),
    "drip": (("injoignable", "n'a pas terminé"), {3}),
    "endless_line": (("ligne de plus de",), {3}),
    "garbage": (("n'est pas un serveur", "illisible"), {3}),
    # the server answers (TLS, capabilities: those checks may pass), but never concludes an
    # authentication: every check that authenticates ends failed or error, saying so
    "endless_continuation": (("pas de réponse étiquetée", "« 334 »", "défi d'erreur", "relais"), {1, 3}),
}
AUTH_CHECKS = {f"LPS-IMAP-{n:02d}" for n in range(4, 17)} | {f"LPS-SMTP-{n:02d}" for n in range(3, 16)}


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    tls = write_tls_material(tmp_path_factory.mktemp("hostile-tls"))
    hostile = HostilePeers(drip_interval=1.0, tls=tls)
    hostile.tls_files = tls
    yield hostile
    hostile.close()


def _start(report_dir: Path, urls: list[str], *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir),
            "--bal", BAL, "--idnat", IDNAT, "--scope", "api_lps", *extra]
    for url in urls:
        argv += ["--operator-url", url]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(peers, tmp_path_factory):
    """behaviour → (finished process, stdout+stderr, seconds, report dir, IMAP port, SMTP port)."""
    started = {}
    for behaviour in CASES:
        tls = behaviour == "endless_continuation"  # it has to get as far as authenticating
        imap_port = peers.start(behaviour, "imap", tls=tls)
        smtp_port = peers.start(behaviour, "smtp", tls=tls)
        urls = ([f"imaps://127.0.0.1:{imap_port}", f"smtps://127.0.0.1:{smtp_port}"] if tls
                else [f"imap://127.0.0.1:{imap_port}", f"smtp://127.0.0.1:{smtp_port}"])
        extra = ["--ca-file", str(peers.tls_files[0])] if tls else []  # the peers' own CA
        report_dir = tmp_path_factory.mktemp(behaviour)
        started[behaviour] = (_start(report_dir, urls, *extra), time.monotonic(), report_dir,
                              imap_port, smtp_port)
    done = {}
    for behaviour, (proc, t0, report_dir, imap_port, smtp_port) in started.items():
        try:
            out, err = proc.communicate(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done[behaviour] = (proc, out + err, time.monotonic() - t0, report_dir, imap_port, smtp_port)
    return done


@pytest.mark.parametrize("behaviour", list(CASES))
def test_run_against_hostile_server_ends_with_report_and_reasons(behaviour, peers, runs):
    proc, output, elapsed, tmp_path, imap_port, smtp_port = runs[behaviour]
    words, exit_codes = CASES[behaviour]

    assert "Traceback" not in output, output[-3000:]
    report_file = tmp_path / "report.json"
    assert report_file.is_file(), output[-3000:]
    report = json.loads(report_file.read_text())
    checks = {c["id"]: c for c in report["checks"]}
    print(f"\n[{behaviour}] run ended in {elapsed:.1f} s, exit {proc.returncode}, verdict "
          f"{report['verdict']}, {len(checks)} checks, connections {peers.connections}")
    for cid, c in sorted(checks.items()):
        print(f"  {cid:12} {c['outcome']:15} {c.get('duration_s', 0):6.1f} s  {c['reason'][:150]}")

    assert proc.returncode in exit_codes, output[-3000:]
    assert report["verdict"] != "conforme"
    ran = {cid: c for cid, c in checks.items() if c["outcome"] != "not_applicable"}
    assert ran, "no check was carried out"
    if behaviour == "endless_continuation":
        # only what does not authenticate (TLS, capabilities) may pass
        ran = {cid: c for cid, c in ran.items() if cid in AUTH_CHECKS}
        assert len(ran) >= 20, sorted(ran)
        assert {c["outcome"] for c in ran.values()} <= {"failed", "error"}, {
            k: c["outcome"] for k, c in ran.items()}
    else:  # nothing can be judged against a server that does not speak the protocol
        assert {c["outcome"] for c in ran.values()} == {"error"}, {k: c["outcome"] for k, c in ran.items()}
    for cid, c in ran.items():
        reason = c["reason"]
        assert reason and "\n" not in reason, (cid, reason)
        assert "défaut du harnais" not in reason, (cid, reason)  # a server fault, never a harness one
    # the checks that opened a session say what the server did (LPS-TLS-* read the sslyze scan)
    sessions = {cid: c for cid, c in ran.items() if not cid.startswith("LPS-TLS")}
    vague = {cid: c["reason"] for cid, c in sessions.items() if not any(w in c["reason"] for w in words)}
    assert not vague, vague
    if behaviour in ("mute", "drip"):
        # the circuit breaker: one connection found each endpoint mute, no check tried again
        assert peers.connections.get(imap_port) == 1, peers.connections
        assert peers.connections.get(smtp_port) == 1, peers.connections
        assert any("injoignable depuis le contrôle" in c["reason"] for c in sessions.values())
