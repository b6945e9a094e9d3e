"""The API LPS suites against the real reference operator (Dovecot + Postfix + bouchon).

The conformant reference passes every check; each defective profile fails exactly the checks
its profile names (mssante_conformance.reference.profiles), every other check keeping its
outcome. Runs go through `mssante-conformance run`, as an operator would; the profile runs
are started together (they mostly wait on servers' timers) and judged one by one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.outcomes import SEVERITY_RANK, Severity
from mssante_conformance.reference.profiles import PROFILES
from mssante_conformance.report import load_report, verify_report

LPS = ("LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT")
RUN_DEADLINE_S = 600
# The local-validation family has its own module (tests/e2e/test_local_validation.py).
DEFECTIVE = [p for p in PROFILES if p != "conformant" and PROFILES[p].knobs.validation == "introspect"
             and any(c.startswith(LPS) for c in PROFILES[p].must_fail)]
EXIT_BY_VERDICT = {"conforme": 0, "non_conforme_majeure": 1, "non_conforme_bloquante": 1, "incomplet": 3}


def cli(report_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir), *args]


def finish(proc: subprocess.Popen, report_dir: Path) -> tuple[int, str, dict]:
    try:
        out, err = proc.communicate(timeout=RUN_DEADLINE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"run did not finish in {RUN_DEADLINE_S} s:\n{out[-2000:]}\n{err[-2000:]}")
    report_path = report_dir / "report.json"
    assert report_path.is_file(), f"no report written:\n{out[-3000:]}\n{err[-3000:]}"
    return proc.returncode, out, json.loads(report_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[int, str, dict]]:
    """Every run of this module, started at once: conformant and each defective profile."""
    started = {}
    for profile in ["conformant", *DEFECTIVE]:
        report_dir = tmp_path_factory.mktemp(profile)
        proc = subprocess.Popen(cli(report_dir, "--scope", "api_lps", "--reference-profile", profile),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[profile] = (proc, report_dir)
    return {profile: finish(proc, report_dir) for profile, (proc, report_dir) in started.items()}


def outcomes(report: dict, families=LPS) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in report["checks"] if c["id"].rsplit("-", 1)[0] in families}


def reasons(report: dict) -> str:
    return "\n".join(f'{c["id"]} {c["outcome"]}: {c.get("reason", "")}' for c in report["checks"]
                     if c["outcome"] != "passed")


def expected_verdict(failed: set[str], tls_transition: str = "during") -> str:
    catalog = load_catalog()
    worst = max((catalog.check(c).severity_for(tls_transition) for c in failed),
                key=SEVERITY_RANK.__getitem__, default=None)
    return {None: "conforme", Severity.MINEURE: "conforme", Severity.MAJEURE: "non_conforme_majeure",
            Severity.BLOQUANTE: "non_conforme_bloquante"}[worst]


def test_conformant_reference_passes_every_api_lps_check(runs):
    code, out, report = runs["conformant"]
    got = outcomes(report)
    assert len(got) == sum(c.family in LPS for c in load_catalog().checks.values()), sorted(got)
    assert {k: v for k, v in got.items() if v != "passed"} == {}, reasons(report)
    assert report["verdict"] == "conforme"
    assert code == 0, out[-2000:]
    assert "Verdict : CONFORME" in out
    assert verify_report(report).ok


def test_evidence_shows_how_the_operator_validated_tokens(runs):
    _, _, report = runs["conformant"]
    expired = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-06")
    facts = expired["evidence"]["facts"]
    trial = next(v for k, v in facts.items() if k.endswith("/ expired"))
    assert trial["authentification"]["outcome"] == "rejected"
    # the reference introspects at the bouchon, which answered "inactive"
    assert any(call.get("endpoint") == "introspection" and call["answer"].get("active") is False
               for call in trial["appels_au_bouchon"]), trial
    # the positive control ran first, on the same endpoint, and was accepted
    control = next(v for k, v in facts.items() if k.endswith("/ valid"))
    assert control["authentification"]["outcome"] == "accepted"


@pytest.mark.parametrize("profile", DEFECTIVE)
def test_defective_profile_fails_exactly_its_checks(profile, runs):
    _, _, reference = runs["conformant"]
    code, out, report = runs[profile]
    must_fail = {c for c in PROFILES[profile].must_fail if c.startswith(LPS)}
    got = outcomes(report)
    failed = {k for k, v in got.items() if v == "failed"}
    assert failed == must_fail, reasons(report)
    unchanged = {k: v for k, v in got.items() if k not in must_fail}
    assert unchanged == {k: v for k, v in outcomes(reference).items() if k not in must_fail}, reasons(report)
    assert report["verdict"] == expected_verdict(must_fail), reasons(report)
    assert code == EXIT_BY_VERDICT[report["verdict"]]


def test_scope_api_lps_selects_the_api_lps_checks_and_vouches_for_them(runs, tmp_path_factory):
    """The declared scope end to end: `run --scope api_lps` (no -k) runs the API LPS checks only,
    and its report says so, is conforme for that scope, and verify recomputes that verdict."""
    code, out, report = runs["conformant"]
    lps = {c.id for c in load_catalog().checks.values() if c.family.startswith("LPS-")}
    assert {c["id"] for c in report["checks"]} == lps
    assert report["scope"]["id"] == "api_lps" and report["scope"]["label"] == "API LPS"
    assert report["not_run_in_scope"] == [], report["not_run_in_scope"]
    assert {c["family"] for c in report["not_run"]} == {"OPI-IN", "OPI-OUT"}
    assert report["verdict"] == "conforme" and report["complete"] is True, report["verdict_reason"]
    assert "--scope api_lps" in report["command_line"]
    assert "Périmètre : API LPS" in out
    copy = tmp_path_factory.mktemp("scope") / "report.json"
    copy.write_text(json.dumps(report), encoding="utf-8")
    assert verify_report(load_report(copy)).ok
