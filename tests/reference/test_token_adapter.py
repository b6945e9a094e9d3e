"""The operator-side token adapter: its decision table, and its password-grant endpoint for real."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from mssante_conformance.reference.directory import load_directory
from mssante_conformance.reference.token_adapter import GrantAdapter, decide

JEAN, CLAIRE = "899700366240", "899700771191"
JEAN_BAL, ORG_BAL = "jean.dupont@operateur-reference.test", "secretariat.urgences@operateur-reference.test"
ISS = "http://127.0.0.1:1/auth/realms/esante-wallet"
ACTIVE = {"active": True, "SubjectNameID": JEAN, "iss": ISS}


@pytest.mark.parametrize("policy, bal, answer, accepted", [
    ("introspect", JEAN_BAL, ACTIVE, True),
    ("introspect", JEAN_BAL, {**ACTIVE, "SubjectNameID": CLAIRE}, False),  # another professional
    ("introspect", ORG_BAL, {**ACTIVE, "SubjectNameID": CLAIRE}, True),  # ORG BAL of her structure
    ("introspect", JEAN_BAL, {"active": False}, False),
    ("introspect", JEAN_BAL, {"SubjectNameID": JEAN}, False),  # no `active`: refused, unlike Dovecot oauth2
    ("introspect", JEAN_BAL, {"active": "true", "SubjectNameID": JEAN}, False),
    ("introspect", JEAN_BAL, {"active": True, "iss": ISS}, False),  # missing SubjectNameID
    ("introspect", JEAN_BAL, {**ACTIVE, "iss": "https://other.example/idp"}, False),
    ("introspect", "nobody@operateur-reference.test", ACTIVE, False),
    ("no_holder", JEAN_BAL, {**ACTIVE, "SubjectNameID": CLAIRE}, True),
    ("no_holder", JEAN_BAL, {"active": False}, False),
    ("any", JEAN_BAL, None, True),
    ("any", "nobody@operateur-reference.test", None, False),
])
def test_decision_table(policy, bal, answer, accepted):
    assert decide(policy, bal, answer, load_directory(), ISS).accepted is accepted


@pytest.fixture(scope="module")
def introspection():
    """A throw-away RFC 7662 endpoint (the adapter's own contract, independent of the bouchon)."""
    app, seen = Flask("introspection"), []

    @app.post("/introspect")
    def introspect():
        seen.append((request.authorization.username if request.authorization else None,
                     request.form.get("token")))
        token = request.form.get("token", "")
        if token.startswith("ok-"):
            return jsonify(active=True, SubjectNameID=token[3:], iss=ISS)
        return jsonify(active=False)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/introspect", seen
    server.shutdown()


@pytest.fixture
def adapter(tmp_path, introspection):
    endpoint, _ = introspection
    running = GrantAdapter({
        "introspection_endpoint": endpoint, "client_id": "operateur-ref", "client_secret": "s" * 24,
        "jwks_uri": endpoint, "issuer": ISS, "policy": "introspect",
        "log_file": str(tmp_path / "adapter.log")}, load_directory(), ("dovecot", "d" * 24)).start()
    yield running
    running.stop()


def _grant(adapter, bal, token, client=("dovecot", "d" * 24)):
    """What Dovecot's oauth2 passdb sends with use_grant_password = yes."""
    response = requests.post(adapter.url, data={
        "grant_type": "password", "username": bal, "password": token,
        "client_id": client[0], "client_secret": client[1]}, timeout=10)
    return response.status_code, response.json()


def test_grant_accepts_the_holder(adapter, introspection, tmp_path):
    _, seen = introspection
    status, body = _grant(adapter, JEAN_BAL, "ok-" + JEAN)
    assert status == 200 and body["bal"] == JEAN_BAL and body["token_type"] == "Bearer"
    assert "ok-" + JEAN not in json.dumps(body)  # the PSC token is never echoed
    assert seen[-1] == ("operateur-ref", "ok-" + JEAN)  # HTTP Basic client auth, form token
    log = (tmp_path / "adapter.log").read_text()
    assert "ok-" + JEAN not in log and "sha256:" in log  # fingerprints only


def test_grant_refuses_another_professional_and_inactive_tokens(adapter):
    assert _grant(adapter, JEAN_BAL, "ok-" + CLAIRE) == (400, {"error": "invalid_grant"})
    assert _grant(adapter, JEAN_BAL, "garbage") == (400, {"error": "invalid_grant"})


def test_grant_refuses_an_unknown_client(adapter):
    assert _grant(adapter, JEAN_BAL, "ok-" + JEAN, client=("dovecot", "wrong"))[0] == 401


def test_grant_is_a_temporary_failure_when_the_bouchon_is_unreachable(tmp_path):
    running = GrantAdapter({
        "introspection_endpoint": "http://127.0.0.1:9/introspect", "client_id": "c", "client_secret": "s",
        "jwks_uri": "", "issuer": ISS, "policy": "introspect", "log_file": str(tmp_path / "a.log")},
        load_directory(), ("dovecot", "d" * 24)).start()
    try:
        assert _grant(running, JEAN_BAL, "ok-" + JEAN)[0] == 503
    finally:
        running.stop()
    assert "temporary failure" in (tmp_path / "a.log").read_text()
