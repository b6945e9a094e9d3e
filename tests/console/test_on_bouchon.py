"""The console mounted on the real bouchon app: operator setup from the bouchon's own facts,
the client secret shown once, then only its fingerprint; downloads of the CA and whitelist."""

import re
import threading

import pytest
import requests
from werkzeug.serving import make_server

from mssante_conformance.console import init_console
from mssante_conformance.fingerprint import fingerprint

psc = pytest.importorskip("mssante_conformance.psc")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def on_bouchon(tmp_path):
    config = psc.BouchonConfig(data_dir=tmp_path / "bouchon")
    app = psc.create_app(config, public_url_pending=True)
    console = init_console(app, tmp_path / "console")
    console.store.create_user("alice", "operator", "alice-mot-de-passe")
    console.store.create_user("bruno", "operator", "bruno-mot-de-passe")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    config.set_public_url(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        console.shutdown()


def _session(base, name):
    s = requests.Session()
    token = TOKEN.search(s.get(f"{base}/console/connexion", timeout=10).text).group(1)
    page = s.post(f"{base}/console/connexion", timeout=10,
                  data={"name": name, "password": f"{name}-mot-de-passe", "csrf_token": token})
    assert page.status_code == 200
    return s, TOKEN.search(page.text).group(1)


def test_setup_page_uses_the_bouchon_and_reveals_the_secret_once(on_bouchon):
    base, app = on_bouchon
    state = app.extensions["bouchon"]
    secret = state.operator_client.client_secret
    s, token = _session(base, "alice")
    page = s.get(f"{base}/console/operateur", timeout=10).text
    assert f"{base}/auth/realms/esante-wallet" in page
    assert state.operator_client.client_id in page
    assert fingerprint(secret) in page and secret not in page
    # The issuer the page shows is the one the bouchon's discovery document announces.
    discovery = requests.get(f"{base}/auth/realms/esante-wallet/.well-known/openid-configuration",
                             timeout=10).json()
    assert discovery["issuer"] in page and discovery["introspection_endpoint"] in page

    first = s.post(f"{base}/console/operateur/secret", data={"csrf_token": token}, timeout=10).text
    assert secret in first
    again = s.post(f"{base}/console/operateur/secret", data={"csrf_token": token}, timeout=10).text
    assert secret not in again and "déjà remis" in again
    s2, token2 = _session(base, "bruno")
    other = s2.post(f"{base}/console/operateur/secret", data={"csrf_token": token2}, timeout=10).text
    assert secret not in other and fingerprint(secret) in other


def test_trust_files_download(on_bouchon):
    base, _ = on_bouchon
    s, _ = _session(base, "alice")
    ca = s.get(f"{base}/console/operateur/ac-igc-sante-test.pem", timeout=30)
    assert ca.status_code == 200 and ca.text.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in ca.text
    whitelist = s.get(f"{base}/console/operateur/liste-blanche.xml", timeout=10)
    assert whitelist.status_code == 200 and "harnais.mssante.test" in whitelist.text
    assert "listeblanche.mssante.fr/schema" in whitelist.text


def test_console_errors_stay_french_pages_on_the_bouchon(on_bouchon):
    base, _ = on_bouchon
    s, _ = _session(base, "alice")
    missing = s.get(f"{base}/console/lancements/inconnu", timeout=10)
    assert missing.status_code == 404 and "Lancement introuvable" in missing.text
    forged = s.post(f"{base}/console/jobs/api-lps-tls", data={"target": "reference"}, timeout=10)
    assert forged.status_code == 400 and "anti-CSRF" in forged.text
