"""The declared scope in the console: each Job sets it, the Job, run and runs pages show it,
and a finished run lists the checks of its scope that did not run, with the parameter that
would run them (over real HTTP, no run launched: the finished run is written as the worker
would leave it)."""

import json
import re

import pytest
import requests

from mssante_conformance.catalog import load_catalog
from mssante_conformance.console.jobs import JOBS, JOBS_BY_ID
from mssante_conformance.outcomes import CheckResult, Outcome
from mssante_conformance.report import build_report

from .conftest import PASSWORDS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.mark.parametrize("job_id, scope", [
    ("api-lps", "api_lps"), ("api-lps-imap", "api_lps"), ("api-lps-smtp", "api_lps"),
    ("api-lps-tls", "api_lps"), ("interface-operateurs", "operator_interface"),
    ("complet", "complet"), ("monitoring", "complet"),
])
def test_each_job_declares_its_scope_to_the_run_command(job_id, scope):
    flags = JOBS_BY_ID[job_id].run_flags()
    assert flags[flags.index("--scope") + 1] == scope


def test_a_job_lists_only_checks_of_its_scope():
    catalog = load_catalog()
    for job in JOBS:
        assert job.checks(catalog), job.id
        if job.scope == "api_lps":
            assert all(c.family.startswith("LPS-") for c in job.checks(catalog)), job.id
    assert len(JOBS_BY_ID["api-lps"].checks(catalog)) == sum(
        c.family.startswith("LPS-") for c in catalog.checks.values())


def _session(base):
    s = requests.Session()
    token = TOKEN.search(s.get(f"{base}/console/connexion", timeout=10).text).group(1)
    page = s.post(f"{base}/console/connexion", timeout=10,
                  data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token})
    assert page.status_code == 200
    return s


def _finished_run_without_mx(console, tmp_path) -> str:
    """A Complet run whose operator gave no MX: the API LPS passed, OPI not run."""
    catalog = load_catalog()
    results = [CheckResult(c.id, Outcome.PASSED) if c.family.startswith("LPS-") else
               CheckResult(c.id, Outcome.NOT_APPLICABLE, "paramètre absent : --operator-mx",
                           missing=("mx",) if c.family == "OPI-IN" else ("sink",))
               for c in catalog.checks.values()]
    report = build_report({"scope": "complet"}, results, catalog)
    run_dir = tmp_path / "run-sans-mx"
    (run_dir / "rapport").mkdir(parents=True)
    (run_dir / "rapport" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    console.store.add_run("run-sans-mx", "alice", "complet", "reference", {}, [], run_dir)
    console.store.update_run("run-sans-mx", status="finished", verdict=report["verdict"])
    return report["verdict"]


def test_pages_show_the_scope_and_what_holds_the_verdict_back(served_console, tmp_path):
    base = served_console.url
    assert _finished_run_without_mx(served_console.console, tmp_path) == "incomplet"
    s = _session(base)

    job = s.get(f"{base}/console/jobs/api-lps", timeout=10).text
    assert "Périmètre du verdict : <strong>API LPS</strong>" in job
    assert "au mieux « Incomplet »" not in job
    partial = s.get(f"{base}/console/jobs/api-lps-imap", timeout=10).text
    assert "au mieux « Incomplet »" in partial and "le Job « API LPS » mène tout" in partial
    dashboard = s.get(f"{base}/console/", timeout=10).text
    assert "Périmètre : Interface opérateurs" in dashboard

    page = s.get(f"{base}/console/lancements/run-sans-mx", timeout=10).text
    assert 'data-verdict="incomplet"' in page
    assert "Périmètre : Complet (API LPS et interface opérateurs)" in page
    not_run = page[page.index('id="not-run-in-scope"'):]
    assert 'data-not-run="OPI-IN-01"' in not_run
    assert "--operator-mx (MX de l&#39;opérateur)" in not_run
    assert "puits MX du harnais" in not_run  # what the outbound checks lacked

    progress = s.get(f"{base}/console/lancements/run-sans-mx/progression", timeout=10).json()
    assert progress["scope"] == "Complet (API LPS et interface opérateurs)"
    assert {c["id"] for c in progress["not_run_in_scope"]} >= {"OPI-IN-01", "OPI-OUT-01"}

    runs = s.get(f"{base}/console/lancements", timeout=10).text
    assert '<td class="scope">Complet (API LPS et interface opérateurs)</td>' in runs
