"""End to end, as a user would: Debian's chromium driven by Playwright against the console
served over real HTTP, running a real Job against the embedded reference operator
(real Dovecot + Postfix + bouchon). Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import html
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from mssante_conformance.console import init_console

from .conftest import PASSWORDS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
RUN_WAIT_MS = 150_000  # a generous bound, not a performance assertion

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium absent")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()


def _shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page, base, name):
    page.goto(f"{base}/console/")
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def _logout(page):
    page.click("text=Se déconnecter")
    page.wait_for_selector("#password")


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def test_operator_runs_a_job_and_downloads_the_report(browser, served_console, tmp_path):
    base = served_console.url
    context = browser.new_context(accept_downloads=True, locale="fr-FR",
                                  viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)

    page.goto(f"{base}/console/")
    assert "/console/connexion" in page.url
    _shot(page, "01-connexion")
    _login(page, base, "alice")
    assert page.locator(".job-card").count() == 7
    _shot(page, "02-jobs")

    # A Job shows what it tests, from the catalog.
    page.click("text=API LPS — TLS")
    assert page.locator("h1").inner_text() == "API LPS — TLS"
    ids = page.locator("table.table td.mono").all_inner_texts()
    assert ids == ["LPS-TLS-01", "LPS-TLS-02", "LPS-TLS-03", "LPS-TLS-04", "LPS-TLS-05", "LPS-TLS-06"]
    _shot(page, "03-job")

    # Invalid parameters: each error next to its field, nothing launched.
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("ceci n'est pas un certificat\n")
    page.check("input[name=target][value=operator]")
    page.fill("#f-operator_urls", "ftp://imap.operateur.test")
    page.set_input_files("#f-ca_file", str(not_pem))
    page.click("text=Lancer le Job")
    page.wait_for_selector("#err-operator_urls")
    assert "schéma inconnu" in page.inner_text("#err-operator_urls")
    assert "pas un certificat PEM" in page.inner_text("#err-ca_file")
    assert page.input_value("#f-operator_urls") == "ftp://imap.operateur.test"  # input kept
    assert served_console.console.store.runs() == []
    _shot(page, "04-job-erreurs")

    # Valid parameters against the reference operator.
    page.check("input[name=target][value=reference]")
    page.click("text=Lancer le Job")
    page.wait_for_url(f"{base}/console/lancements/*")
    run_url = page.url
    run_id = run_url.rsplit("/", 1)[1]
    page.wait_for_selector("#checks tbody tr", timeout=RUN_WAIT_MS)
    _shot(page, "05-progression")
    page.wait_for_selector("#verdict", timeout=RUN_WAIT_MS)  # the page reloads when the run ends
    verdict = page.get_attribute("#verdict", "data-verdict")
    # TLS alone is part of the API LPS scope: the rest of the scope did not run
    assert verdict == "incomplet", page.inner_text("#verdict")
    assert page.inner_text("#scope") == "Périmètre : API LPS"
    assert page.locator("#not-run-in-scope [data-not-run=LPS-IMAP-01]").is_visible()
    rows = page.locator("#checks tbody tr")
    assert sorted(rows.nth(i).get_attribute("data-check") for i in range(rows.count())) == ids
    _shot(page, "06-resultat")

    # The downloaded reports carry the verdict the page shows.
    with page.expect_download() as dl:
        page.click("#dl-json")
    report = json.loads(Path(dl.value.path()).read_text("utf-8"))
    assert report["verdict"] == verdict
    assert sorted(c["id"] for c in report["checks"]) == ids
    with page.expect_download() as dl:
        page.click("#dl-html")
    assert "<html" in Path(dl.value.path()).read_text("utf-8").lower()
    # The PDF is rendered on demand, in a subprocess with a time limit.
    pdf = page.request.get(base + page.get_attribute("#dl-pdf", "href"), timeout=120_000)
    assert pdf.status == 200, html.unescape(pdf.text())[:500]
    assert pdf.body().startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment")
    (tmp_path / "r.pdf").write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          text=True, timeout=30).stdout
    assert "LPS-TLS-01" in text

    page.click("text=Configuration opérateur")
    assert page.inner_text("#issuer").endswith("/auth/realms/esante-wallet")
    _shot(page, "07-operateur")
    _logout(page)

    # Another operator cannot see the run, neither listed nor by its address.
    _login(page, base, "bruno")
    page.goto(f"{base}/console/lancements")
    assert run_id not in page.content()
    response = page.goto(run_url)
    assert response.status == 404
    assert page.request.get(f"{run_url}/rapport.json").status == 404
    _shot(page, "08-autre-operateur")
    _logout(page)

    # The auditor sees it, read-only.
    _login(page, base, "audrey")
    page.goto(f"{base}/console/lancements")
    assert run_id in page.content()
    _shot(page, "09-auditeur")
    _logout(page)

    # The run survives a console restart (history in SQLite).
    served_console.console.shutdown()
    app = Flask("console-restarted")
    init_console(app, served_console.console.data_dir)
    server, thread = _serve(app)
    try:
        base2 = f"http://127.0.0.1:{server.server_port}"
        _login(page, base2, "alice")
        page.goto(f"{base2}/console/lancements/{run_id}")
        assert page.get_attribute("#verdict", "data-verdict") == verdict
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["mssante_console"].shutdown()
        context.close()
