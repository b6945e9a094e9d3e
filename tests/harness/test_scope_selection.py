"""--scope in the plugin: it deselects the checks of other families, and a check not run for
lack of a parameter carries the parameter names into report.json (real pytest subprocesses,
with a stand-in `target` fixture: no server is involved)."""

import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.conformance import NotApplicable
from mssante_conformance.suites.support import starttls_endpoints


def _suite(tmp_path, families) -> None:
    checks = [c.id for c in load_catalog().checks.values() if c.family in families]
    tests = "".join(f'@pytest.mark.check("{cid}")\ndef test_{cid.replace("-", "_")}(): pass\n'
                    for cid in checks)
    target = textwrap.dedent('''
        @pytest.fixture(scope="session")
        def target():  # an operator given without its MX
            return SimpleNamespace(bal="a@op.test", idnat="899700366240", other_idnat=None,
                                   client_cert=None, client_key=None, mx=None, sink_available=False,
                                   imap=["imaps"], smtp=["smtps"], bouchon=None,
                                   describe=lambda: {"operator_urls": ["imaps://op.test"]})
        ''')
    (tmp_path / "test_suite.py").write_text(
        "import pytest\nfrom types import SimpleNamespace\n" + target + tests)


def _pytest(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "--report-dir", str(tmp_path / "rapport"), *args],
                          capture_output=True, text=True, timeout=120)


def test_scope_deselects_other_families(tmp_path):
    _suite(tmp_path, ("LPS-TLS", "OPI-IN"))
    proc = _pytest(tmp_path, "--collect-only", "--scope", "api_lps")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_LPS_TLS_01" in proc.stdout and "test_OPI_IN_01" not in proc.stdout
    assert "deselected" in proc.stdout


def test_bad_scope_is_a_usage_error(tmp_path):
    _suite(tmp_path, ("LPS-TLS",))
    proc = _pytest(tmp_path, "--scope", "partiel")
    assert proc.returncode == 4 and "invalid choice: 'partiel'" in proc.stderr


def test_missing_mx_is_recorded_and_makes_a_complet_run_incomplet(tmp_path):
    _suite(tmp_path, ("LPS-TLS", "OPI-IN"))
    proc = _pytest(tmp_path, "--scope", "complet")
    report = json.loads((tmp_path / "rapport" / "report.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["OPI-IN-01"]["outcome"] == "not_applicable"
    assert by_id["OPI-IN-01"]["missing"] == [{"need": "mx", "parameter": "--operator-mx (MX de l'opérateur)"}]
    assert by_id["LPS-TLS-01"]["outcome"] == "passed" and "missing" not in by_id["LPS-TLS-01"]
    assert report["scope"]["id"] == "complet" and report["verdict"] == "incomplet"
    assert "--operator-mx" in report["verdict_reason"], report["verdict_reason"]
    assert "Périmètre : Complet" in proc.stdout


def test_not_applicable_kinds():
    assert NotApplicable(["mx", "sink"]).missing == ("mx", "sink")
    assert NotApplicable("aucun point d'accès en clair").missing == ()


def test_implicit_tls_only_endpoints_are_not_applicable_by_design():
    with pytest.raises(NotApplicable) as raised:
        starttls_endpoints([SimpleNamespace(implicit_tls=True)], "imap")
    assert raised.value.missing == ()  # nothing in clear to test: not a missing parameter
