"""A real browser (Chromium via Playwright) logs in through the login page as a person would."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import pkce_pair

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "<html><body><h1>Application LPS de test : retour de PSC</h1></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def client_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/callback"
    server.shutdown()
    server.server_close()


def test_person_logs_in_with_chromium(bouchon, client_site):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium absent")
    _, challenge = pkce_pair()
    url = requests.Request("GET", bouchon.authorization_endpoint, params={
        "response_type": "code", "client_id": "lps-test", "redirect_uri": client_site,
        "scope": "openid scope_all", "state": "etat-123", "nonce": "n-1", "acr_values": "eidas1",
        "code_challenge": challenge, "code_challenge_method": "S256"}).prepare().url
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=20_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(url)
            assert "bouchon de test" in page.title()
            page.screenshot(path=str(ARTIFACTS / "psc-login-page.png"), full_page=True)
            page.get_by_label("e-CPS (application mobile)").check()
            page.get_by_role("button", name="Jean Dupont").click()
            page.wait_for_url(client_site + "*")
            page.screenshot(path=str(ARTIFACTS / "psc-login-landed.png"))
            landed = parse_qs(urlsplit(page.url).query)
        finally:
            browser.close()
    assert landed["state"] == ["etat-123"] and len(landed["code"][0]) > 20
