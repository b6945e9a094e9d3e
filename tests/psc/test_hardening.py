"""Issue 12 (bouchon side): introspection for operator clients only, logout needs a POST with a
confirmation or a valid id_token_hint, and no issuer taken from a request's Host header."""

import re

import pytest
import requests

from mssante_conformance.psc import BouchonConfig, TokenVariant, create_app
from mssante_conformance.psc.app import PublicUrlRequired

from .conftest import JEAN, TIMEOUT, login

LOGOUT = "/protocol/openid-connect/logout"


def test_introspection_by_a_non_operator_client_is_refused(bouchon):
    token = bouchon.mint(TokenVariant.VALID, idnat=JEAN).token
    lps = bouchon.lps_client
    refused = requests.post(bouchon.introspection_endpoint, data={"token": token}, timeout=TIMEOUT,
                            auth=(lps.client_id, lps.client_secret))
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert JEAN not in refused.text and "active" not in refused.json()
    op = bouchon.operator_client
    answer = requests.post(bouchon.introspection_endpoint, data={"token": token}, timeout=TIMEOUT,
                           auth=(op.client_id, op.client_secret)).json()
    assert answer["active"] is True and answer["SubjectNameID"] == JEAN


def test_older_client_files_keep_introspection_for_the_operator_only(tmp_path):
    import json

    from mssante_conformance.psc.clients import load_clients

    (tmp_path / "clients.json").write_text(json.dumps({
        "operateur-reference": {"secret": "s" * 20}, "lps-test": {"secret": "t" * 20},
        "autre-operateur": {"secret": "u" * 20, "introspection": True}}))
    clients, _ = load_clients(tmp_path)
    assert clients["operateur-reference"].introspection is True
    assert clients["autre-operateur"].introspection is True
    assert clients["lps-test"].introspection is False


def _logged_in(bouchon):
    http = requests.Session()
    url = (bouchon.issuer + "/protocol/openid-connect/auth?response_type=code&client_id=lps-test"
           "&redirect_uri=http://127.0.0.1:9/cb&code_challenge=" + "a" * 43 +
           "&code_challenge_method=S256&scope=openid")
    assert login(http, url).status_code == 302
    return http, url


def _has_live_sso(http, url):
    again = http.get(url, allow_redirects=False, timeout=TIMEOUT)
    return again.status_code == 302  # SSO answers at once; a dead session shows the login page


def test_logout_by_get_only_asks_for_confirmation(bouchon):
    http, url = _logged_in(bouchon)
    page = http.get(bouchon.issuer + LOGOUT, timeout=TIMEOUT)  # what an <img src> would do
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    assert _has_live_sso(http, url)
    forged = http.post(bouchon.issuer + LOGOUT, data={"confirmation": "0" * 64}, timeout=TIMEOUT)
    assert forged.status_code == 400 and _has_live_sso(http, url)
    confirmation = re.search(r'name="confirmation" value="([0-9a-f]+)"', page.text).group(1)
    done = http.post(bouchon.issuer + LOGOUT, data={"confirmation": confirmation}, timeout=TIMEOUT)
    assert done.status_code == 200 and "déconnecté" in done.text
    assert not _has_live_sso(http, url)


def test_public_url_is_required_and_never_taken_from_the_host_header(tmp_path):
    with pytest.raises(PublicUrlRequired):
        create_app(BouchonConfig(data_dir=tmp_path / "a"))
    config = BouchonConfig(data_dir=tmp_path / "b")
    app = create_app(config, public_url_pending=True)
    answer = app.test_client().get("/auth/realms/esante-wallet/.well-known/openid-configuration",
                                   headers={"Host": "evil.example"})
    assert answer.status_code == 503 and config.public_url is None
    config.set_public_url("http://127.0.0.1:8765")
    meta = app.test_client().get("/auth/realms/esante-wallet/.well-known/openid-configuration",
                                 headers={"Host": "evil.example"}).get_json()
    assert meta["issuer"].startswith("http://127.0.0.1:8765/")
