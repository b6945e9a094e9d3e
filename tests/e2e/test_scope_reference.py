"""A declared scope, end to end: `mssante-conformance run --scope api_lps` against the embedded
reference operator runs the API LPS checks only (the scope alone selects them, no `-k`), and
its report says so and is `conforme`; `verify` recomputes that scoped verdict."""

from __future__ import annotations

import subprocess
import sys

from mssante_conformance.catalog import load_catalog
from mssante_conformance.report import load_report, verify_report

RUN_DEADLINE_S = 600  # a hang guard, not a timing assertion


def test_run_with_scope_api_lps_on_the_reference_is_conforme_for_that_scope(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "run",
                           "--report-dir", str(tmp_path), "--scope", "api_lps"],
                          capture_output=True, text=True, timeout=RUN_DEADLINE_S)
    assert (tmp_path / "report.json").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = load_report(tmp_path / "report.json")
    lps = {c.id for c in load_catalog().checks.values() if c.family.startswith("LPS-")}
    assert {c["id"] for c in report["checks"]} == lps
    assert report["scope"]["id"] == "api_lps" and report["scope"]["label"] == "API LPS"
    assert report["not_run_in_scope"] == [], report["not_run_in_scope"]
    assert {c["family"] for c in report["not_run"]} == {"OPI-IN", "OPI-OUT"}
    assert report["verdict"] == "conforme", report["verdict_reason"]
    assert report["complete"] is True
    assert "--scope api_lps" in report["command_line"]
    assert verify_report(report).ok
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "Périmètre : API LPS" in proc.stdout
