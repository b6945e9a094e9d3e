"""A real OIDC relying-party library (authlib's OAuth2Session) runs the whole flow over HTTP."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

from .conftest import JEAN, REDIRECT_URI, TIMEOUT, login


@pytest.fixture(scope="module")
def metadata(bouchon):
    wallet = requests.get(bouchon.discovery_url, timeout=TIMEOUT).json()
    standard = requests.get(bouchon.issuer + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert wallet == standard
    return wallet


def rp_session(bouchon, method="client_secret_basic"):
    client = bouchon.lps_client
    return OAuth2Session(client.client_id, client.client_secret, scope="openid scope_all",
                         redirect_uri=REDIRECT_URI, code_challenge_method="S256",
                         token_endpoint_auth_method=method)


def authorize(bouchon, metadata, rp, idnat=JEAN):
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                             nonce=nonce, acr_values="eidas1")
    redirect = login(requests.Session(), url, idnat)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = rp.fetch_token(metadata["token_endpoint"], authorization_response=location,
                           code_verifier=verifier)
    return token, nonce


def test_metadata_is_psc_layout(bouchon, metadata):
    assert metadata["issuer"] == bouchon.issuer
    assert bouchon.issuer.endswith("/auth/realms/esante-wallet")
    for name, suffix in [("token_endpoint", "token"), ("userinfo_endpoint", "userinfo"),
                         ("introspection_endpoint", "token/introspect"), ("jwks_uri", "certs"),
                         ("revocation_endpoint", "revoke"), ("end_session_endpoint", "logout"),
                         ("authorization_endpoint", "auth")]:
        assert metadata[name] == f"{bouchon.issuer}/protocol/openid-connect/{suffix}"
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_whole_flow(bouchon, metadata):
    rp = rp_session(bouchon)
    token, nonce = authorize(bouchon, metadata, rp)
    jwk = jwt.PyJWKClient(metadata["jwks_uri"], timeout=TIMEOUT)
    id_claims = jwt.decode(token["id_token"], jwk.get_signing_key_from_jwt(token["id_token"]).key,
                           algorithms=["RS256"], audience="lps-test", issuer=bouchon.issuer)
    assert id_claims["nonce"] == nonce and id_claims["idp"] == "PSC" and id_claims["acr"] == "eidas1"
    access = jwt.decode(token["access_token"], jwk.get_signing_key_from_jwt(token["access_token"]).key,
                        algorithms=["RS256"], issuer=bouchon.issuer, options={"verify_aud": False})
    assert access["SubjectNameID"] == JEAN and access["azp"] == "lps-test"
    assert access["nonce"] == nonce and access["sid"] == id_claims["sid"]

    info = rp.get(metadata["userinfo_endpoint"], timeout=TIMEOUT).json()
    assert info["SubjectNameID"] == JEAN and info["family_name"] == "Dupont"
    assert info["SubjectRefPro"]["exercices"][0]["codeProfession"] == "10"

    refreshed = rp.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]  # rotated
    with pytest.raises(OAuthError) as reused:
        rp.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert reused.value.error == "invalid_grant"

    # the relying party may not introspect (issue 12): only the operator's client may
    refused = rp.introspect_token(metadata["introspection_endpoint"], token=refreshed["access_token"])
    assert refused.status_code in (400, 401, 403)
    assert refused.json()["error"] == "unauthorized_client" and "SubjectNameID" not in refused.text
    operator = bouchon.operator_client
    op = OAuth2Session(operator.client_id, operator.client_secret)
    answer = op.introspect_token(metadata["introspection_endpoint"], token=refreshed["access_token"]).json()
    assert answer["active"] is True and answer["SubjectNameID"] == JEAN
    # Dovecot's "post" mode: credentials in the form
    answer = requests.post(metadata["introspection_endpoint"], timeout=TIMEOUT, data={
        "token": refreshed["access_token"], "client_id": operator.client_id,
        "client_secret": operator.client_secret}).json()
    assert answer["active"] is True

    assert rp.revoke_token(metadata["revocation_endpoint"], token=refreshed["access_token"]).status_code == 200
    assert op.introspect_token(metadata["introspection_endpoint"],
                               token=refreshed["access_token"]).json() == {"active": False}

    out = requests.get(metadata["end_session_endpoint"], allow_redirects=False, timeout=TIMEOUT,
                       params={"id_token_hint": refreshed["id_token"], "state": "bye",
                               "post_logout_redirect_uri": "http://127.0.0.1:9/bye"})
    assert out.status_code == 302 and out.headers["Location"] == "http://127.0.0.1:9/bye?state=bye"
    with pytest.raises(OAuthError) as after_logout:
        rp.refresh_token(metadata["token_endpoint"], refresh_token=refreshed["refresh_token"])
    assert after_logout.value.error == "invalid_grant"

    endpoints = [c.endpoint for c in bouchon.calls()]
    for expected in ("discovery", "jwks", "userinfo", "introspection"):
        assert expected in endpoints


def test_client_secret_post_and_client_credentials(bouchon, metadata):
    rp = rp_session(bouchon, method="client_secret_post")
    token, _ = authorize(bouchon, metadata, rp, idnat="899700427885")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["SubjectNameID"] == "899700427885"
    service = rp_session(bouchon).fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    claims = jwt.decode(service["access_token"], options={"verify_signature": False})
    assert claims["azp"] == "lps-test" and "SubjectNameID" not in claims and "refresh_token" not in service


def test_single_sign_on_reuses_the_session(bouchon, metadata):
    rp = rp_session(bouchon)
    http = requests.Session()
    url, _ = rp.create_authorization_url(metadata["authorization_endpoint"], code_verifier="v" * 50)
    first = login(http, url)
    assert first.status_code == 302
    url, _ = rp.create_authorization_url(metadata["authorization_endpoint"], code_verifier="w" * 50)
    again = http.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 302 and "code=" in again.headers["Location"]
