"""The operator-side token adapter: its decision table, and the checkpassword protocol for real."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from mssante_conformance.reference.directory import load_directory
from mssante_conformance.reference.token_adapter import decide

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


def _run_adapter(tmp_path, endpoint, bal, token, policy="introspect"):
    config = tmp_path / "adapter.json"
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(load_directory().to_json()))
    config.write_text(json.dumps({
        "introspection_endpoint": endpoint, "client_id": "operateur-ref", "client_secret": "s" * 24,
        "jwks_uri": endpoint, "issuer": ISS, "policy": policy, "directory_file": str(directory),
        "log_file": str(tmp_path / "adapter.log"), "mail_uid": 65534, "mail_gid": 65534}))
    reply = tmp_path / "reply.sh"  # stands for Dovecot's checkpassword-reply
    reply.write_text('#!/bin/sh\necho "USER=$USER uid=$userdb_uid extra=$EXTRA" >&4\n')
    reply.chmod(0o700)
    fd3, fd4 = tmp_path / "fd3", tmp_path / "fd4"
    fd3.write_bytes(bal.encode() + b"\0" + token.encode() + b"\0")
    # Dovecot gives "user\0password\0" on fd 3 and reads the reply program's answer on fd 4.
    proc = subprocess.run(
        ["sh", "-c", 'exec "$0" -m mssante_conformance.reference.token_adapter "$1" "$2" 3<"$3" 4>"$4"',
         sys.executable, str(config), str(reply), str(fd3), str(fd4)],
        capture_output=True, timeout=20)
    assert b"Traceback" not in proc.stderr, proc.stderr
    answer = fd4.read_text()
    return proc.returncode, answer, (tmp_path / "adapter.log").read_text()


def test_checkpassword_accepts_the_holder_and_execs_reply(tmp_path, introspection):
    endpoint, seen = introspection
    code, answer, log = _run_adapter(tmp_path, endpoint, JEAN_BAL, "ok-" + JEAN)
    assert code == 0
    assert answer.strip() == f"USER={JEAN_BAL} uid=65534 extra=userdb_uid userdb_gid"
    assert seen[-1] == ("operateur-ref", "ok-" + JEAN)  # HTTP Basic client auth, form token
    assert "ok-" + JEAN not in log and "sha256:" in log  # fingerprints only


def test_checkpassword_refuses_another_professional_and_inactive(tmp_path, introspection):
    endpoint, _ = introspection
    assert _run_adapter(tmp_path, endpoint, JEAN_BAL, "ok-" + CLAIRE)[:2] == (1, "")
    assert _run_adapter(tmp_path, endpoint, JEAN_BAL, "garbage")[:2] == (1, "")


def test_checkpassword_temporary_failure_when_bouchon_unreachable(tmp_path):
    code, answer, log = _run_adapter(tmp_path, "http://127.0.0.1:9/introspect", JEAN_BAL, "ok-x")
    assert (code, answer) == (111, "")
    assert "temporary failure" in log
