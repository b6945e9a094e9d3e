"""The suite does not assume one validation style: runs against the local_jwt family.

* ``local_jwt`` (Dovecot validates the JWT itself, keys from the bouchon's JWKS, no
  introspection), harness full profile, API LPS suites: exactly the profile's expected failures
  (the revocation checks), every other check passed.
* ``trusts_other_issuer`` (local validation trusting an issuer of the operator's own, as a
  production operator trusts the real PSC), harness monitoring profile, every suite: every
  monitoring check passed and the verdict is ``conforme`` (issue 14, part D).

Runs go through ``mssante-conformance run``, as an operator would, and are started together.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.reference.profiles import get_profile

pytestmark = pytest.mark.slow

RUN_DEADLINE_S = 600
LPS = ("LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT")
RUNS = {  # name -> (reference profile, harness profile, extra arguments)
    "local_jwt": ("local_jwt", "full", ("--scope", "api_lps")),
    "trusts_other_issuer": ("trusts_other_issuer", "monitoring", ()),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[int, str, dict]]:
    started = {}
    for name, (reference, harness, extra) in RUNS.items():
        report_dir = tmp_path_factory.mktemp(name)
        command = [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir),
                   "--reference-profile", reference, "--profile", harness, *extra]
        started[name] = (subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                         report_dir)
    return {name: _finish(proc, report_dir) for name, (proc, report_dir) in started.items()}


def _finish(proc: subprocess.Popen, report_dir: Path) -> tuple[int, str, dict]:
    try:
        out, err = proc.communicate(timeout=RUN_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"run did not finish in {RUN_DEADLINE_S} s:\n{out[-2000:]}\n{err[-2000:]}")
    report = report_dir / "report.json"
    assert report.is_file(), f"no report written:\n{out[-3000:]}\n{err[-3000:]}"
    return proc.returncode, out, json.loads(report.read_text(encoding="utf-8"))


def _outcomes(report: dict, families: tuple[str, ...] | None = None) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in report["checks"]
            if families is None or c["id"].rsplit("-", 1)[0] in families}


def _reasons(report: dict) -> str:
    return "\n".join(f'{c["id"]} {c["outcome"]}: {c.get("reason", "")}' for c in report["checks"]
                     if c["outcome"] != "passed")


def test_local_jwt_fails_exactly_the_revocation_checks(runs):
    code, out, report = runs["local_jwt"]
    got = _outcomes(report, LPS)
    expected = get_profile("local_jwt").expected_failures("full")
    assert expected == {"LPS-IMAP-14", "LPS-SMTP-15"}
    assert {k for k, v in got.items() if v == "failed"} == expected, _reasons(report)
    assert {k: v for k, v in got.items() if k not in expected} == \
        {k: "passed" for k in got if k not in expected}, _reasons(report)
    assert len(got) == 42, sorted(got)  # every API LPS check of the catalog ran
    # Both revocation checks are mineure: the verdict stays conforme, the run exits 0.
    assert report["verdict"] == "conforme" and code == 0, out[-2000:]
    revoked = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-14")
    assert "révoqué est accepté" in revoked["reason"]


def test_local_jwt_made_no_introspection_call(runs):
    """The bouchon's call log, as the harness recorded it next to each trial: tokens were
    refused (expired, forged…) or accepted (valid, revoked) without any introspection."""
    _, _, report = runs["local_jwt"]
    trials = [fact for check in report["checks"] if check["id"].startswith(("LPS-IMAP", "LPS-SMTP"))
              for fact in check.get("evidence", {}).get("facts", {}).values()
              if isinstance(fact, dict) and "appels_au_bouchon" in fact]
    assert len(trials) >= 20, len(trials)
    endpoints = {call.get("endpoint") for trial in trials for call in trial["appels_au_bouchon"]}
    assert "introspection" not in endpoints, endpoints
    outcomes = {trial["authentification"]["outcome"] for trial in trials}
    assert {"accepted", "rejected"} <= outcomes, outcomes


def test_operator_trusting_another_issuer_passes_monitoring(runs):
    code, out, report = runs["trusts_other_issuer"]
    catalog = load_catalog()
    monitoring = {c for c, check in catalog.checks.items() if check.monitoring}
    got = _outcomes(report)
    assert set(got) <= monitoring, set(got) - monitoring
    expected = get_profile("trusts_other_issuer").expected_failures("monitoring")
    assert {k for k, v in got.items() if v != "passed"} == expected == set(), _reasons(report)
    # every API LPS and inbound monitoring check ran (the run has no --operator-mx gap)
    assert {c for c in monitoring if c.startswith(LPS + ("OPI-IN",))} <= set(got), \
        sorted({c for c in monitoring if c.startswith(LPS + ("OPI-IN",))} - set(got))
    assert report["profile"] == "monitoring"
    assert report["verdict"] == "conforme" and code == 0, _reasons(report) + out[-2000:]


def test_operator_trusting_another_issuer_refused_every_bouchon_token(runs):
    """The monitoring pass above is not a reference that trusts the bouchon after all: the
    bouchon's tokens (valid ones included, in LPS-IMAP-02) never opened a BAL."""
    _, _, report = runs["trusts_other_issuer"]
    trials = [fact for check in report["checks"]
              for fact in check.get("evidence", {}).get("facts", {}).values()
              if isinstance(fact, dict) and "authentification" in fact]
    assert trials
    assert all(t["authentification"]["outcome"] != "accepted" for t in trials), trials
