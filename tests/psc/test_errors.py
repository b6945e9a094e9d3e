"""Every endpoint answers malformed, missing or hostile parameters with the right OAuth2
error, never a 500."""

from __future__ import annotations

import pytest
import requests

from mssante_conformance.psc import TokenVariant

from .conftest import JEAN, REDIRECT_URI, TIMEOUT, login, pkce_pair


def post(url, **kwargs):
    return requests.post(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)


def get(url, **kwargs):
    return requests.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def lps(bouchon):
    return (bouchon.lps_client.client_id, bouchon.lps_client.client_secret)


def authorize_params(**overrides):
    _, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": "lps-test", "redirect_uri": REDIRECT_URI,
              "scope": "openid scope_all", "state": "s1", "code_challenge": challenge,
              "code_challenge_method": "S256", "acr_values": "eidas1"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_error(response):
    assert response.status_code == 302, response.text
    from urllib.parse import parse_qs, urlsplit
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return parse_qs(urlsplit(location).query)


@pytest.mark.parametrize("overrides, error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"prompt": "none"}, "login_required"),
])
def test_authorize_errors_are_redirected(bouchon, overrides, error):
    answer = get(bouchon.authorization_endpoint, params=authorize_params(**overrides))
    query = redirect_error(answer)
    assert query["error"] == [error] and query["state"] == ["s1"]


@pytest.mark.parametrize("overrides", [
    {"client_id": "inconnu"}, {"client_id": None}, {"redirect_uri": "https://evil.example/cb"},
])
def test_authorize_never_redirects_to_an_unchecked_uri(bouchon, overrides):
    answer = get(bouchon.authorization_endpoint, params=authorize_params(**overrides))
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "refusée" in answer.text


def test_authorize_cancel_and_unknown_identity(bouchon):
    url = requests.Request("GET", bouchon.authorization_endpoint, params=authorize_params()).prepare().url
    assert redirect_error(login(requests.Session(), url, refuser="1"))["error"] == ["access_denied"]
    assert login(requests.Session(), url, idnat="000").status_code == 400


def test_wallet_host_path_serves_the_login_page(bouchon):
    page = get(bouchon.url + "/auth", params=authorize_params())
    assert page.status_code == 200 and "Jean" in page.text and "Choisissez" in page.text


def code_for(bouchon):
    verifier, challenge = pkce_pair()
    url = requests.Request("GET", bouchon.authorization_endpoint, params=authorize_params(
        code_challenge=challenge)).prepare().url
    query = redirect_error(login(requests.Session(), url))
    return query["code"][0], verifier


@pytest.mark.parametrize("form, auth, status, error", [
    ({}, "lps", 400, "unsupported_grant_type"),
    ({"grant_type": "password", "username": "x", "password": "y"}, "lps", 400, "unsupported_grant_type"),
    ({"grant_type": "authorization_code", "code": "x"}, None, 401, "invalid_client"),
    ({"grant_type": "authorization_code", "code": "x"}, ("lps-test", "faux"), 401, "invalid_client"),
    ({"grant_type": "authorization_code"}, "lps", 400, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "inconnu", "redirect_uri": REDIRECT_URI}, "lps", 400, "invalid_grant"),
    ({"grant_type": "refresh_token", "refresh_token": "inconnu"}, "lps", 400, "invalid_grant"),
    ({"grant_type": "refresh_token"}, "lps", 400, "invalid_request"),
])
def test_token_errors(bouchon, lps, form, auth, status, error):
    answer = post(bouchon.token_endpoint, data=form, auth=lps if auth == "lps" else auth)
    assert answer.status_code == status and answer.json()["error"] == error


def test_token_pkce_is_enforced(bouchon, lps):
    code, verifier = code_for(bouchon)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    missing = post(bouchon.token_endpoint, data=form, auth=lps)
    assert missing.json()["error"] == "invalid_request"
    code, verifier = code_for(bouchon)
    wrong = post(bouchon.token_endpoint, data={**form, "code": code, "code_verifier": "x" * 50}, auth=lps)
    assert wrong.json()["error"] == "invalid_grant"
    code, verifier = code_for(bouchon)
    good = post(bouchon.token_endpoint, data={**form, "code": code, "code_verifier": verifier}, auth=lps)
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
    replay = post(bouchon.token_endpoint, data={**form, "code": code, "code_verifier": verifier}, auth=lps)
    assert replay.json()["error"] == "invalid_grant"  # single use


def test_token_endpoint_refuses_get(bouchon):
    assert get(bouchon.token_endpoint).status_code == 405


@pytest.mark.parametrize("data, headers, status, error", [
    ({"token": "x"}, {}, 401, "invalid_client"),
    ({"token": "x"}, {"Authorization": "Basic !!!not-base64"}, 401, "invalid_client"),
    ({"token": "x"}, {"Authorization": "Basic /w=="}, 401, "invalid_client"),  # not UTF-8
    ({"token": "x", "client_id": "operateur-reference", "client_secret": "faux"}, {}, 401, "invalid_client"),
])
def test_introspection_client_errors(bouchon, data, headers, status, error):
    answer = post(bouchon.introspection_endpoint, data=data, headers=headers)
    assert answer.status_code == status and answer.json()["error"] == error


def test_introspection_request_errors(bouchon):
    op = (bouchon.operator_client.client_id, bouchon.operator_client.client_secret)
    assert post(bouchon.introspection_endpoint, data={}, auth=op).json()["error"] == "invalid_request"
    hint = post(bouchon.introspection_endpoint, data={"token": "x", "token_type_hint": "bogus"}, auth=op)
    assert hint.json()["error"] == "unsupported_token_type"
    for hostile in ("x", "a.b.c", "é" * 100, "." * 5000, "eyJhbGciOiJub25lIn0.e30."):
        answer = post(bouchon.introspection_endpoint, data={"token": hostile}, auth=op)
        assert answer.status_code == 200 and answer.json() == {"active": False}
    big = post(bouchon.introspection_endpoint, data={"token": "x" * 200_000}, auth=op)
    assert big.status_code == 413


def test_userinfo_errors(bouchon):
    missing = get(bouchon.userinfo_endpoint)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_request"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for token in ("garbage", bouchon.mint(TokenVariant.EXPIRED, idnat=JEAN).token,
                  bouchon.mint(TokenVariant.FORGED_SIGNATURE, idnat=JEAN).token):
        answer = get(bouchon.userinfo_endpoint, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    good = bouchon.mint(TokenVariant.VALID, idnat=JEAN).token
    assert get(bouchon.userinfo_endpoint, headers={"Authorization": f"Bearer {good}"}).json()["SubjectNameID"] == JEAN


def test_revocation_errors(bouchon, lps):
    url = bouchon.issuer + "/protocol/openid-connect/revoke"
    assert post(url, data={"token": "x"}).json()["error"] == "invalid_client"
    assert post(url, data={}, auth=lps).json()["error"] == "invalid_request"
    assert post(url, data={"token": "inconnu"}, auth=lps).status_code == 200  # RFC 7009 2.2


def test_logout_errors(bouchon):
    url = bouchon.issuer + "/protocol/openid-connect/logout"
    assert get(url, params={"id_token_hint": "garbage"}).status_code == 400
    forged = bouchon.mint(TokenVariant.FORGED_SIGNATURE, idnat=JEAN).token
    assert get(url, params={"id_token_hint": forged}).status_code == 400
    evil = get(url, params={"client_id": "lps-test", "post_logout_redirect_uri": "https://evil.example/"})
    assert evil.status_code == 400 and "Location" not in evil.headers
    assert get(url).status_code == 200  # no session: just says "déconnecté"


def test_unknown_paths_and_methods(bouchon):
    assert get(bouchon.url + "/nope").status_code == 404
    assert post(bouchon.jwks_uri).status_code == 405
    assert get(bouchon.jwks_uri, headers={"Authorization": "Basic /w=="}).status_code == 200
    garbled = post(bouchon.token_endpoint, data=b"\xff\xfe=\x00&grant_type=\xc3",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert garbled.status_code == 400
