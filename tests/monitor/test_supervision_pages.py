"""The « Supervision » pages: Flask's client for access rules, Debian's chromium (Playwright) for
what a user sees, with screenshots in test-artifacts/monitor/. The history is recorded through
MonitorHistory as the monitor records it (the real runs are covered by test_monitor_reference)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from mssante_conformance.console import init_console
from mssante_conformance.monitor.history import MonitorHistory

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "monitor"
PASSWORDS = {"auditrice": "auditrice-mot-de-passe", "opa": "opa-mot-de-passe-long",
             "opb": "opb-mot-de-passe-long", "sansorg": "sansorg-mot-de-passe"}
CHECKS = ["LPS-IMAP-01", "LPS-IMAP-02", "LPS-SMTP-02", "LPS-TLS-02"]


def record(history, data_dir, target, organisation, n, outcomes, status="finished", message=""):
    report_dir = data_dir / "monitor" / target / f"tour{n}" / "rapport"
    report_dir.mkdir(parents=True)
    verdict = None
    if status == "finished":
        verdict = "non_conforme_bloquante" if "failed" in outcomes.values() else "conforme"
        (report_dir / "report.json").write_text(json.dumps({"verdict": verdict}), encoding="utf-8")
        (report_dir / "report.html").write_text(f"<html><body>rapport {target} {n}</body></html>")
    return history.record(round_id=f"tour{n}", target=target, organisation=organisation,
                          started_at=1.8e9 + n * 21600, finished_at=1.8e9 + n * 21600 + 40,
                          status=status, verdict=verdict,
                          report_path=str(report_dir / "report.html") if verdict else None,
                          harness_version="0.9", catalog_version="ref1-v1.5", message=message,
                          outcomes=outcomes if status == "finished" else {},
                          reasons={c: f"raison {c}" for c in outcomes})


@pytest.fixture
def console_with_history(tmp_path):
    data_dir = tmp_path / "console"
    app = Flask("supervision-test")
    console = init_console(app, data_dir)
    store = console.store
    store.create_user("auditrice", "auditor", PASSWORDS["auditrice"])
    store.create_user("opa", "operator", PASSWORDS["opa"], organisation="operateur-a")
    store.create_user("opb", "operator", PASSWORDS["opb"], organisation="operateur-b")
    store.create_user("sansorg", "operator", PASSWORDS["sansorg"])
    history = MonitorHistory(data_dir)
    ok = {c: "passed" for c in CHECKS}
    for n in range(6):  # op-a regresses on LPS-IMAP-02 at run 4, still failing at run 5
        record(history, data_dir, "op-a", "operateur-a", n,
               {**ok, "LPS-IMAP-02": "failed"} if n >= 4 else ok)
    for n in range(5):  # op-b: TLS failing, one outage, then recovered
        if n == 2:
            record(history, data_dir, "op-b", "operateur-b", n, {}, status="error",
                   message="délai dépassé : pas de rapport après 900 s, lancement arrêté")
        else:
            record(history, data_dir, "op-b", "operateur-b", n,
                   {**ok, "LPS-TLS-02": "failed"} if n < 4 else ok)
    try:
        yield app, console
    finally:
        console.shutdown()


def client_for(app, name):
    client = app.test_client()
    page = client.get("/console/connexion")
    assert page.status_code == 200
    with client.session_transaction() as session:
        csrf = session["console_csrf"]
    response = client.post("/console/connexion", data={"name": name, "password": PASSWORDS[name],
                                                       "csrf_token": csrf})
    assert response.status_code == 302, response.data[:300]
    return client


def test_auditor_sees_every_target_and_operators_only_their_own(console_with_history):
    app, _ = console_with_history
    page = client_for(app, "auditrice").get("/console/supervision").get_data(as_text=True)
    assert 'data-target="op-a"' in page and 'data-target="op-b"' in page
    opa = client_for(app, "opa")
    page = opa.get("/console/supervision").get_data(as_text=True)
    assert 'data-target="op-a"' in page and 'data-target="op-b"' not in page
    assert opa.get("/console/supervision/op-a").status_code == 200
    assert opa.get("/console/supervision/op-b").status_code == 404
    assert opa.get("/console/supervision/op-b/7/rapport.html").status_code == 404
    lonely = client_for(app, "sansorg").get("/console/supervision").get_data(as_text=True)
    assert "Aucun opérateur supervisé" in lonely


def test_target_page_open_regressions_and_reports(console_with_history):
    app, _ = console_with_history
    client = client_for(app, "opa")
    page = client.get("/console/supervision/op-a").get_data(as_text=True)
    assert "Régressions ouvertes" in page and "LPS-IMAP-02" in page
    assert page.count('class="timeline-row"') == 6
    history = MonitorHistory(app.extensions["mssante_console"].data_dir)
    last = history.runs("op-a")[0]
    report = client.get(f"/console/supervision/op-a/{last.id}/rapport.html")
    assert report.status_code == 200 and b"rapport op-a 5" in report.data
    b_run = history.runs("op-b")[0]
    assert client.get(f"/console/supervision/op-a/{b_run.id}/rapport.html").status_code == 404
    assert history.open_regressions("op-b") == []


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium absent")
def test_supervision_pages_in_chromium(console_with_history):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, _ = console_with_history
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
            try:
                page = browser.new_page(locale="fr-FR", viewport={"width": 1360, "height": 900})
                page.set_default_timeout(20_000)
                page.goto(f"{base}/console/")
                page.fill("#name", "auditrice")
                page.fill("#password", PASSWORDS["auditrice"])
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/console/")
                page.click("text=Supervision")
                page.wait_for_selector("table.supervision")
                rows = page.locator("tr.target-row")
                assert rows.count() == 2
                a = page.locator('tr[data-target="op-a"]')
                assert a.locator(".open-regressions").inner_text().strip() == "LPS-IMAP-02"
                assert a.locator("svg.trend rect").count() == 6
                assert a.locator("svg.trend rect.bar-regressed").count() == 1
                b = page.locator('tr[data-target="op-b"]')
                assert b.locator("svg.trend rect.bar-error").count() == 1
                assert b.locator(".open-regressions").inner_text().strip() == "aucune"
                page.screenshot(path=str(ARTIFACTS / "01-supervision.png"), full_page=True)

                page.click("text=op-b")
                page.wait_for_selector("table.timeline")
                assert page.locator("tr.timeline-row").count() == 5
                assert "délai dépassé" in page.locator("tr.timeline-row").nth(2).inner_text()
                tls = page.locator('tr[data-check="LPS-TLS-02"] .outcome')
                assert tls.all_inner_texts() == ["Réussi", "Échec", "Échec", "Échec"]
                assert page.locator('tr[data-check="LPS-TLS-02"] .outcome.changed').count() == 1
                page.screenshot(path=str(ARTIFACTS / "02-supervision-cible.png"), full_page=True)
                page.click("tr.timeline-row >> nth=0 >> text=HTML")
                page.wait_for_selector("text=rapport op-b 4")
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)

