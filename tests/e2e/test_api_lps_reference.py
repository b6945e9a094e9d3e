"""The API LPS suites against the real reference operator (Dovecot + Postfix + bouchon).

The conformant reference passes every check; each defective profile fails exactly the checks
its profile names (mssante_conformance.reference.profiles), every other check keeping its
outcome. Runs go through `mssante-conformance run`, as an operator would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mssante_conformance.reference.profiles import PROFILES
from mssante_conformance.report import verify_report

LPS = ("LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT")
PROFILE_DEADLINE_S = 600


def run_cli(report_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir), *args],
        capture_output=True, text=True, timeout=PROFILE_DEADLINE_S,
    )
    report_path = report_dir / "report.json"
    assert report_path.is_file(), f"no report written:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, json.loads(report_path.read_text(encoding="utf-8"))


def outcomes(report: dict, families=LPS) -> dict[str, str]:
    return {c["id"]: c["outcome"] for c in report["checks"] if c["id"].rsplit("-", 1)[0] in families}


def reasons(report: dict) -> str:
    return "\n".join(f'{c["id"]} {c["outcome"]}: {c.get("reason", "")}' for c in report["checks"]
                     if c["outcome"] != "passed")


@pytest.fixture(scope="module")
def conformant(tmp_path_factory):
    return run_cli(tmp_path_factory.mktemp("conformant"), "-k", "api_lps")


def test_conformant_reference_passes_every_api_lps_check(conformant):
    proc, report = conformant
    got = outcomes(report)
    assert set(got) == {c for c in got}, got
    assert len(got) == 40, sorted(got)  # 16 IMAP + 15 SMTP + 6 TLS + 3 CERT
    assert {k: v for k, v in got.items() if v != "passed"} == {}, reasons(report)
    assert report["verdict"] == "conforme"
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "Verdict : CONFORME" in proc.stdout
    assert verify_report(report).ok


def test_evidence_shows_how_the_operator_validated_tokens(conformant):
    _, report = conformant
    expired = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-06")
    facts = expired["evidence"]["facts"]
    trial = next(v for k, v in facts.items() if k.endswith("/ expired"))
    assert trial["authentification"]["outcome"] == "rejected"
    # the reference introspects at the bouchon, which answered "inactive"
    assert any(call.get("endpoint") == "introspect" for call in trial["appels_au_bouchon"]), trial


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "conformant" and
                                     any(c.startswith(LPS) for c in PROFILES[p].must_fail)])
def test_defective_profile_fails_exactly_its_checks(profile, conformant, tmp_path):
    _, reference = conformant
    proc, report = run_cli(tmp_path, "-k", "api_lps", "--reference-profile", profile)
    must_fail = {c for c in PROFILES[profile].must_fail if c.startswith(LPS)}
    got = outcomes(report)
    failed = {k for k, v in got.items() if v == "failed"}
    assert failed == must_fail, reasons(report)
    unchanged = {k: v for k, v in got.items() if k not in must_fail}
    assert unchanged == {k: v for k, v in outcomes(reference).items() if k not in must_fail}, reasons(report)
    assert report["verdict"].startswith("non_conforme"), report["verdict"]
    assert proc.returncode == 1
