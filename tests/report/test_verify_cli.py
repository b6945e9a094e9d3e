"""`verify` and `report` from the command line: intact, tampered, foreign and broken inputs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from mssante_conformance.cli import main
from mssante_conformance.report import compare, digest, write_report
from mssante_conformance.report.model import derive


@pytest.fixture
def report_file(tmp_path, bloquante_report):
    return write_report(bloquante_report, tmp_path, formats=("json",))["json"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def edit(path, change):
    report = json.loads(path.read_text(encoding="utf-8"))
    change(report)
    path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


def test_verify_passes_on_a_fresh_report(capsys, report_file):
    code, out, _ = run_cli(capsys, "verify", report_file)
    assert code == 0
    assert "Rapport intact" in out and "Non conforme (bloquante)" in out
    assert "(périmètre : Complet (API LPS et interface opérateurs))" in out


def _check(report, check_id):
    return next(c for c in report["checks"] if c["id"] == check_id)


@pytest.mark.parametrize("what, change", [
    ("outcome", lambda r: _check(r, "LPS-IMAP-06").update(outcome="passed")),
    ("transcript line", lambda r: _check(r, "LPS-IMAP-06")["evidence"]["transcripts"][0]["lines"][2]
        .update(line="a1 NO refusé")),
    ("parameter", lambda r: r["parameters"].update(bal="autre@op.test")),
    ("reason", lambda r: _check(r, "LPS-IMAP-14").update(reason="")),
    ("command", lambda r: r.update(command_line="mssante-conformance run")),
    ("stored verdict", lambda r: r.update(verdict="conforme")),
    ("scope", lambda r: r["scope"].update(id="api_lps", label="API LPS")),
])
def test_verify_fails_when_anything_is_edited(capsys, report_file, what, change):
    edit(report_file, change)
    code, out, _ = run_cli(capsys, "verify", report_file)
    assert code == 1, what
    assert "RAPPORT ALTÉRÉ" in out and "l'empreinte ne correspond pas" in out


def test_verify_catches_a_verdict_that_does_not_follow_even_with_a_fresh_digest(capsys, report_file):
    def forge(r):  # a careful forger edits an outcome, keeps the verdict and re-seals the digest
        _check(r, "LPS-IMAP-06")["outcome"] = "passed"
        r["integrity"]["digest"] = digest(r)

    edit(report_file, forge)
    code, out, _ = run_cli(capsys, "verify", report_file)
    assert code == 1
    assert "le verdict ne découle pas des résultats" in out
    assert "l'empreinte ne correspond pas" not in out


@pytest.mark.parametrize("content, code, message", [
    (None, 2, "fichier introuvable"),
    ('{"format": "mssante-conformance/report/2", "checks": [', 2, "n'est pas du JSON valide (ligne 1"),
    ("\n\nnot json", 2, "ligne 3"),
    (b"\x89PNG\r\n\x1a\n\x00", 2, "n'est pas du texte UTF-8"),
    ('{"name": "another tool", "results": []}', 2, "n'est pas un rapport mssante-conformance"),
    ("[1, 2]", 2, "n'est pas un rapport mssante-conformance"),
    ('{"format": "junit/1"}', 2, "au format mssante-conformance/report/2"),
    ('{"format": "mssante-conformance/report/2"}', 1, "ne respecte pas le schéma"),
    # a report of the previous format (verdict without a declared scope) is not re-judged
    ('{"format": "mssante-conformance/report/1"}', 2, "(format : 'mssante-conformance/report/1')"),
])
@pytest.mark.parametrize("command", ["verify", "report"])
def test_bad_inputs_get_a_clear_error(capsys, tmp_path, command, content, code, message):
    path = tmp_path / "input.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    rc, out, err = run_cli(capsys, command, path)
    assert rc == code
    assert message in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


def test_schema_violation_names_the_path(capsys, report_file):
    edit(report_file, lambda r: _check(r, "LPS-IMAP-06").update(severity="grave"))
    rc, _, err = run_cli(capsys, "verify", report_file)
    assert rc == 1 and "$.checks[" in err and ".severity" in err


def test_directory_given_as_report(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "report", tmp_path)
    assert rc == 2 and "répertoire" in err


def test_console_script_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "verify", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "n'est pas du JSON valide" in proc.stderr and "Traceback" not in proc.stderr


def test_report_renders_md_and_junit_from_the_json_alone(capsys, report_file, tmp_path):
    rc, out, _ = run_cli(capsys, "report", report_file, "--format", "md")
    md = report_file.with_name("report.md").read_text(encoding="utf-8")
    assert rc == 0 and "report.md" in out
    assert "**Verdict : Non conforme (bloquante)**" in md and "LPS-IMAP-06" in md
    junit = tmp_path / "out" / "junit.xml"
    rc, _, _ = run_cli(capsys, "report", report_file, "-f", "junit", "-o", junit)
    suite = ET.parse(junit).getroot()
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    errored = {c.get("name") for c in suite.iter("testcase") if c.find("error") is not None}
    assert rc == 0 and failed == {"LPS-IMAP-06", "LPS-IMAP-14"} and errored == {"LPS-SMTP-13"}


def test_report_refuses_to_render_a_tampered_report(capsys, report_file):
    edit(report_file, lambda r: r.update(verdict="conforme"))
    rc, _, err = run_cli(capsys, "report", report_file, "-f", "html")
    assert rc == 1 and "n'est pas intact" in err
    assert not report_file.with_name("report.html").exists()


def test_verify_against_another_run(capsys, tmp_path, bloquante_report, make_report):
    same = write_report(bloquante_report, tmp_path / "a", formats=("json",))["json"]
    rerun = write_report(bloquante_report, tmp_path / "b", formats=("json",))["json"]
    rc, out, _ = run_cli(capsys, "verify", rerun, "--against", same)
    assert rc == 0 and "même verdict" in out
    other = write_report(make_report(), tmp_path / "c", formats=("json",))["json"]
    rc, out, _ = run_cli(capsys, "verify", other, "--against", same)
    assert rc == 1
    assert "verdict différent : Non conforme (bloquante) / Conforme" in out
    assert "LPS-IMAP-06 : Échec / Réussi" in out


def test_compare_lists_verdict_and_outcome_differences(bloquante_report, make_report):
    assert compare(bloquante_report, copy.deepcopy(bloquante_report)) == []
    diffs = compare(bloquante_report, make_report({"LPS-IMAP-06": ("failed", "x")}))
    assert {(d["what"], d["id"], d["a"], d["b"]) for d in diffs} == {
        ("outcome", "LPS-IMAP-14", "failed", "passed"),
        ("outcome", "LPS-SMTP-13", "error", "passed"),
        ("outcome", "LPS-CERT-01", "not_applicable", "passed"),
    }
    narrower = compare(make_report(), make_report(scope="api_lps"))
    assert ("scope", None, "complet", "api_lps") in {(d["what"], d["id"], d["a"], d["b"]) for d in narrower}


def test_derive_is_what_build_report_stored(bloquante_report):
    derived = derive(bloquante_report)
    assert {k: bloquante_report[k] for k in derived} == derived


def test_verify_catches_a_resealed_scope_that_would_make_an_incomplete_run_conforme(
        capsys, tmp_path, make_report):
    no_mx = {c: ("not_applicable", "paramètre absent : --operator-mx", ("mx",))
             for c in ("OPI-IN-01", "OPI-IN-02", "OPI-IN-03")}
    report = make_report(no_mx)
    assert report["verdict"] == "incomplet"
    path = write_report(report, tmp_path, formats=("json",))["json"]
    code, out, _ = run_cli(capsys, "verify", path)
    assert code == 0 and "Incomplet" in out

    def forge(r):  # the forger narrows the declared scope to hide the missing MX, and re-seals
        r["scope"] = {"id": "api_lps", "label": "API LPS",
                      "families": ["LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT"]}
        r["integrity"]["digest"] = digest(r)

    edit(path, forge)
    code, out, _ = run_cli(capsys, "verify", path)
    assert code == 1
    assert "recalculé « conforme »" in out
