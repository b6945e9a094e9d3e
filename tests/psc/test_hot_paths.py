"""The WSGI fast paths (psc/hot_paths.py) answer exactly what the Flask/authlib views answer,
and record the same relying-party call; whatever they do not know goes to Flask."""

from __future__ import annotations

import base64

import pytest
from werkzeug.test import Client

from mssante_conformance.psc import TokenVariant
from mssante_conformance.psc.app import create_app
from mssante_conformance.psc.config import BouchonConfig
from mssante_conformance.psc.discovery import ENDPOINT_PATHS, REALM_PATH, WALLET_DISCOVERY_PATH
from mssante_conformance.psc.hot_paths import HotPaths
from mssante_conformance.psc.mint import mint
from mssante_conformance.psc.state import BouchonState

JEAN = "899700366240"
PUBLIC_URL = "http://127.0.0.1:9"
INTROSPECT = REALM_PATH + ENDPOINT_PATHS["introspection_endpoint"]
TOKEN = REALM_PATH + ENDPOINT_PATHS["token_endpoint"]
JWKS = REALM_PATH + ENDPOINT_PATHS["jwks_uri"]
DISCOVERY = REALM_PATH + WALLET_DISCOVERY_PATH


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    config = BouchonConfig(data_dir=tmp_path_factory.mktemp("hot"), public_url=PUBLIC_URL)
    state = BouchonState(config)
    app = create_app(config, state)
    assert isinstance(app.wsgi_app, HotPaths)
    fast, flask_only = Client(app.wsgi_app), Client(app.wsgi_app.app)
    yield state, fast, flask_only
    state.close()


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def last_call(state, endpoint):
    call = state.store.calls(endpoint=endpoint)[-1]
    return call.client_id, call.token_fingerprint, call.answer


def both(state, fast, flask_only, endpoint, send):
    """(answer, call) through the fast path and through Flask alone: they must be equal."""
    results = []
    for client in (fast, flask_only):
        response = send(client)
        results.append(((response.status_code, response.headers.get("Content-Type"),
                         response.headers.get("Cache-Control"), response.get_json()),
                        last_call(state, endpoint) if endpoint else None))
    assert results[0] == results[1]
    return results[0]


@pytest.mark.parametrize("variant", [TokenVariant.VALID, TokenVariant.EXPIRED, TokenVariant.REVOKED,
                                     TokenVariant.FOREIGN_ISSUER, TokenVariant.FORGED_SIGNATURE,
                                     TokenVariant.UNSIGNED, TokenVariant.HS256_PUBLIC_KEY,
                                     TokenVariant.EMBEDDED_JWK, TokenVariant.TAMPERED_PAYLOAD,
                                     TokenVariant.NOT_YET_VALID])
@pytest.mark.parametrize("auth", ["basic", "post"])
def test_introspection_answers_and_call_log_equal_the_flask_path(served, variant, auth):
    state, fast, flask_only = served
    op = state.operator_client
    token = mint(state, variant, JEAN).token
    data, headers = {"token": token}, {}
    if auth == "basic":
        headers = basic(op.client_id, op.client_secret)
    else:
        data.update(client_id=op.client_id, client_secret=op.client_secret)
    (status, _, _, body), (client_id, token_fp, answer) = both(
        state, fast, flask_only, "introspection",
        lambda client: client.post(INTROSPECT, data=data, headers=headers))
    assert status == 200 and client_id == op.client_id and token_fp
    assert body["active"] is (variant is TokenVariant.VALID)
    assert answer["why"] == ("ok" if variant is TokenVariant.VALID else answer["why"])


@pytest.mark.parametrize("case", ["wrong_secret", "no_auth", "refresh_hint", "odd_param", "no_token"])
def test_introspection_unusual_requests_equal_the_flask_path(served, case):
    state, fast, flask_only = served
    op = state.operator_client
    token = mint(state, TokenVariant.VALID, JEAN).token
    data, headers = {"token": token}, basic(op.client_id, op.client_secret)
    if case == "wrong_secret":
        headers = basic(op.client_id, "not-the-secret")
    elif case == "no_auth":
        headers = {}
    elif case == "refresh_hint":
        data["token_type_hint"] = "refresh_token"
    elif case == "odd_param":
        data["extra"] = "1"
    else:
        data = {}
    both(state, fast, flask_only, "introspection",
         lambda client: client.post(INTROSPECT, data=data, headers=headers))


@pytest.mark.parametrize("form", [{}, {"scope": "scope_all"}])
def test_client_credentials_token_has_the_flask_shape(served, form):
    state, fast, flask_only = served
    op = state.operator_client
    bodies = []
    for client in (fast, flask_only):
        response = client.post(TOKEN, data={"grant_type": "client_credentials", **form},
                               headers=basic(op.client_id, op.client_secret))
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
        body = response.get_json()
        bodies.append((sorted(body), body["token_type"], body["expires_in"], body["scope"]))
        verdict = state.judge_access_token(body["access_token"])
        assert verdict.active and verdict.claims["azp"] == op.client_id
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("form", [{"grant_type": "client_credentials", "client_id": "nobody",
                                   "client_secret": "x"},
                                  {"grant_type": "password", "username": "a", "password": "b"},
                                  {"grant_type": "client_credentials"}])
def test_token_errors_equal_the_flask_path(served, form):
    state, fast, flask_only = served
    both(state, fast, flask_only, None, lambda client: client.post(TOKEN, data=form))


@pytest.mark.parametrize("path,call", [(DISCOVERY, "discovery"), (JWKS, "jwks")])
def test_documents_are_the_flask_bytes_with_cache_headers(served, path, call):
    state, fast, flask_only = served
    served_fast, served_flask = fast.get(path), flask_only.get(path)
    assert served_fast.data == served_flask.data
    assert served_fast.headers["Cache-Control"] == "public, max-age=300"
    etag = served_fast.headers["ETag"]
    before = len(state.store.calls(endpoint=call))
    again = fast.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    calls = state.store.calls(endpoint=call)
    assert len(calls) == before + 1 and calls[-1].answer == {"status": 304}
