"""The HTML in a real Chromium, and the PDF through WeasyPrint, pdftotext and pdfdetach."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mssante_conformance.report import render, verify_report, write_report
from mssante_conformance.report.render_html import render_html

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_html_is_self_contained_and_escaped(bloquante_report):
    html = render_html(bloquante_report)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)  # no external asset
    assert "<script" not in html  # the transcript's <script> is escaped, and there is no JS
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "@media print" in html


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield browser
        browser.close()


def test_html_in_chromium_shows_verdict_requirements_and_failure_reason(
    browser, bloquante_report, tmp_path
):
    html = write_report(bloquante_report, tmp_path, formats=("html",))["html"]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(10_000)
    external = []
    page.on("request", lambda r: None if r.url.startswith("file:") else external.append(r.url))
    page.goto(html.as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-top.png"))

    banner = page.get_by_test_id("verdict-banner")
    assert banner.is_visible()
    assert "Non conforme (bloquante)" in banner.inner_text()
    assert "Périmètre du verdict : Complet (API LPS et interface opérateurs)" in banner.inner_text()
    assert "LPS-CERT-01" in page.get_by_test_id("not-run-in-scope").inner_text()
    assert page.get_by_test_id("deadlines-heading").inner_text() == (
        "Délais proposés (contrat opérateur, en concertation)")
    table = page.get_by_test_id("requirements-table")
    assert table.is_visible()
    assert "MSS 7.2" in table.inner_text() and "Non conforme" in table.inner_text()
    failing = page.get_by_test_id("check-LPS-IMAP-06")
    reason = failing.get_by_text("Le serveur a accepté un jeton expiré")
    assert reason.is_visible()
    # the transcript is folded, and opens on click
    line = failing.get_by_text("AUTHENTICATE XOAUTH2")
    assert not line.is_visible()
    failing.locator("summary").click()
    assert line.is_visible()
    assert "<script>alert(1)</script>" in failing.inner_text()  # shown as text, not run
    assert page.get_by_text("Engagement de l'opérateur").is_visible()
    assert external == []

    failing.screenshot(path=str(ARTIFACTS / "report-failed-check.png"))
    page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
    page.close()


@pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdfdetach"),
                    reason="poppler-utils is not installed")
def test_pdf_holds_the_verdict_the_check_ids_and_report_json(bloquante_report, tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(bloquante_report, "pdf"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "report.pdf")

    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "Non conforme (bloquante)" in text
    for check in bloquante_report["checks"]:
        assert check["id"] in text, check["id"]
    assert bloquante_report["integrity"]["digest"][:40] in text.replace("\n", "")

    listing = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert "report.json" in listing
    out = tmp_path / "attached.json"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(out), str(pdf)], timeout=60, check=True)
    attached = json.loads(out.read_text(encoding="utf-8"))
    assert attached == bloquante_report
    assert verify_report(attached).ok


def test_banner_states_the_scope_and_the_checks_not_run(make_report):
    report = make_report({c: ("not_applicable", "paramètre absent : --operator-mx", ("mx",))
                          for c in ("OPI-IN-01", "OPI-IN-03")})
    html = render_html(report)
    banner = html[html.index('data-testid="verdict-banner"'):html.index('<div class="counts"')]
    assert "Incomplet" in banner
    assert "Périmètre du verdict : <strong>Complet (API LPS et interface opérateurs)</strong>" in banner
    assert "OPI-IN-01, OPI-IN-03" in banner and "--operator-mx (MX de l&#39;opérateur)" in banner
    assert 'data-testid="not-run-table"' in html
    markdown = render(report, "md").decode()
    assert "Périmètre du verdict : Complet (API LPS et interface opérateurs)" in markdown
    assert "| OPI-IN-01 | Bloquante | --operator-mx (MX de l'opérateur) |" in markdown
    junit = render(report, "junit").decode()
    assert '<property name="scope" value="complet" />' in junit

    api_lps = render_html(make_report(scope="api_lps"))
    assert "Périmètre du verdict : <strong>API LPS</strong>" in api_lps
    assert "Contrôles du catalogue hors périmètre ou hors profil" in api_lps
    assert 'data-testid="not-run-in-scope"' not in api_lps


def test_deadlines_are_worded_as_the_seed_proposes(make_report):
    report = make_report({"LPS-IMAP-06": ("failed", "Jeton expiré accepté.")})
    for text in (render_html(report), render(report, "md").decode()):
        assert "Délais proposés (contrat opérateur, en concertation)" in text
        assert "proposition soumise à concertation" in text
        assert "délai de mise en conformité après la sanction 2" in text
        assert "sanction 3" not in text
        assert "Échéances contractuelles" not in text
        assert "Délais du contrat (Ref#1 v1.5)" not in text
    assert "Délais proposés" not in render_html(make_report())  # conforme: no deadline at all


def test_transcripts_of_the_mail_probes_render_and_validate(catalog):
    """The shape mssante_conformance.mail.transcript produces (entries/text, tls as a list)."""
    from mssante_conformance.mail.transcript import Transcript
    from mssante_conformance.outcomes import CheckResult, Outcome
    from mssante_conformance.report import build_report, schema_errors

    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    tr = Transcript(secrets=[token], title="imaps://127.0.0.2:10993")
    tr.server("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] Dovecot ready.")
    tr.client(f"a1 AUTHENTICATE XOAUTH2 {token}")
    tr.server("a1 NO [AUTHENTICATIONFAILED] Authentication failed.")
    tr.note("variante : expired")
    evidence = {"transcripts": [tr.to_dict(), "C: raw line"],
                "auth": {"lines": ["S: + eyJzdGF0dXMiOiI0MDEifQ=="], "status": "NO"}}
    report = build_report({}, [CheckResult("LPS-IMAP-06", Outcome.PASSED, "Refusé.", 0.1, evidence)],
                          catalog)
    assert schema_errors(report) == []
    html = render_html(report)
    assert "imaps://127.0.0.2:10993" in html
    assert "a1 NO [AUTHENTICATIONFAILED] Authentication failed." in html
    assert "C: raw line" in html and "variante : expired" in html
    assert token not in html


@pytest.mark.parametrize("evidence", [
    {"transcripts": {"endpoint": "x", "lines": "S: not a list"}},
    {"transcripts": [{"tls": "TLSv1.2", "lines": [{"dir": "C"}, 42, None]}], "facts": ["a", "b"]},
    {"bouchon_calls": ["introspection", {"endpoint": "jwks"}], "items": {"keys": 1}},
    ["a list, not a dict"],
    {"facts": {"nested": {"deep": [1, {"x": None}]}}, "transcripts": [None, 3]},
])
def test_any_evidence_shape_validates_and_renders(catalog, evidence):
    from mssante_conformance.outcomes import CheckResult, Outcome
    from mssante_conformance.report import build_report, parse_report, schema_errors

    report = build_report({}, [CheckResult("LPS-IMAP-01", Outcome.FAILED, "x", 0.1, evidence)],
                          catalog)
    assert schema_errors(report) == []
    assert verify_report(parse_report(json.dumps(report))).ok
    assert "LPS-IMAP-01" in render_html(report)


def test_trust_anchors_are_named_by_fingerprint_not_dumped(make_report):
    from report_synthetic import META

    anchors = {"source": "--trust-anchors", "file": "/etc/igc-sante/test.pem",
               "anchors": [{"subject": "CN=AC IGC-SANTE ELEMENTAIRE ORGANISATIONS TEST", "sha256": "ab" * 32,
                            "not_after": "2030-01-01T00:00:00+00:00", "self_signed": False}]}
    report = make_report(meta={**META, "targets": {**META["targets"], "trust_anchors": anchors}})
    html = render_html(report)
    summary = html.split("Opérateur testé :", 1)[1].split("</p>", 1)[0]
    assert "trust_anchors" not in summary and "imaps://imap.op.test:993" in summary
    table = html.split('data-testid="trust-anchors"', 1)[1].split("</table>", 1)[0]
    assert "AC IGC-SANTE ELEMENTAIRE ORGANISATIONS TEST" in table and "ab" * 32 in table
    assert "Aucune ancre de confiance" in render_html(make_report())
