"""The probes against the real reference operator (Dovecot + Postfix on loopback).

The operator validates tokens by introspection; here a stand-in introspection endpoint (real
HTTP on loopback) answers for one token, so these tests depend only on the reference operator.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from mssante_conformance.mail import AuthOutcome, ImapProbe, SmtpProbe, Transcript
from mssante_conformance.mail.tls import scan_endpoints
from mssante_conformance.reference import ReferenceOperator

VALID = "eyJhbGciOiJSUzI1NiJ9.eyJyZWYiOiJ2YWxpZCJ9.cmVmZXJlbmNlLXZhbGlkZQ"
INACTIVE = "eyJhbGciOiJSUzI1NiJ9.eyJyZWYiOiJleHBpcmVkIn0.cmVmZXJlbmNlLWV4cGlyZWQ"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


class StandInBouchon:
    """Just enough of the bouchon for the operator: introspection over real HTTP."""

    def __init__(self, idnat: str) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                token = form.get("token", [""])[0]
                answer = {"active": True, "SubjectNameID": owner.idnat, "iss": owner.issuer} if token == VALID else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.idnat = idnat
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url + "/auth/realms/esante-wallet"
        self.introspection_endpoint = self.issuer + "/protocol/openid-connect/token/introspect"
        self.jwks_uri = self.issuer + "/protocol/openid-connect/certs"
        self.operator_client = Client("operateur-reference", "secret-de-test-operateur")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    from mssante_conformance.reference import load_directory

    mailbox = next(m for m in load_directory().mailboxes if m.holders)
    bouchon = StandInBouchon(mailbox.holders[0])
    try:
        with ReferenceOperator(tmp_path_factory.mktemp("ref-op"), bouchon) as op:
            yield op, mailbox.address
    finally:
        bouchon.close()


def _imap(op, kind="imap"):
    return ImapProbe(op.endpoints[kind], Transcript(), ca_file=str(op.ca_file), timeout=5)


def _smtp(op, kind="smtp"):
    return SmtpProbe(op.endpoints[kind], Transcript(), ca_file=str(op.ca_file), timeout=5)


def test_imap_refuses_authentication_before_tls(operator):
    op, bal = operator
    with _imap(op) as p:
        p.connect()
        assert {"STARTTLS", "LOGINDISABLED"} <= p.capabilities()
        assert p.login_plaintext(bal, "mot-de-passe").code == "PRIVACYREQUIRED"
        attempt = p.authenticate_xoauth2(bal, VALID)
        assert (attempt.outcome, attempt.code) == (AuthOutcome.REJECTED, "PRIVACYREQUIRED")


def test_imap_starttls_sasl_ir_valid_token_and_failure_convention(operator):
    op, bal = operator
    with _imap(op) as p:
        p.connect()
        info = p.starttls()
        assert info.verified and info.version in ("TLSv1.2", "TLSv1.3")
        assert {"SASL-IR", "AUTH=XOAUTH2"} <= p.capabilities()
        bad = p.authenticate_xoauth2(bal, INACTIVE)
        assert (bad.status, bad.code) == ("NO", "AUTHENTICATIONFAILED")
        assert bad.followed_failure_convention and bad.challenge.status == "401"
        assert p.noop().ok
        assert p.authenticate_xoauth2(bal, VALID).accepted
        assert p.select("INBOX").ok
        assert p.logout().ok
    stored = json.dumps(p.transcript.to_dict())
    assert VALID not in stored and INACTIVE not in stored


def test_imap_malformed_payload_and_implicit_tls(operator):
    op, bal = operator
    with _imap(op, "imaps") as p:
        p.connect()
        assert p.tls_info.verified
        attempt = p.authenticate_raw("XOAUTH2", "%%%pas-du-base64%%%")
        assert attempt.rejected and attempt.status in ("NO", "BAD")
        assert p.noop().ok


def test_smtp_submission(operator):
    op, bal = operator
    with _smtp(op) as p:
        p.connect()
        assert p.ehlo().starttls
        before = p.auth_xoauth2(bal, VALID)
        assert before.rejected and before.code == "PRIVACYREQUIRED" and before.status in ("523", "530")
        assert p.starttls().verified
        assert "XOAUTH2" in p.ehlo().auth_mechanisms
        bad = p.auth_xoauth2(bal, INACTIVE)
        assert (bad.status, bad.code) == ("535", "AUTHENTICATIONFAILED") and bad.followed_failure_convention
        assert p.auth_xoauth2(bal, VALID).accepted
        p.quit()
    with _smtp(op, "smtps") as p:
        p.connect()
        assert p.tls_info.verified and p.ehlo().ok


def test_tls_scan_of_the_lps_endpoints(operator):
    op, _ = operator
    kinds = ("imap", "smtps")  # one STARTTLS, one implicit TLS: enough, and scans take seconds
    results = scan_endpoints([op.endpoints[k] for k in kinds], ca_file=str(op.ca_file), versions=("tls1_0", "tls1_2"))
    for result in results:
        assert result.error is None, result.error
        assert result.versions == {"tls1_0": False, "tls1_2": True}
        assert result.chain_valid is True and result.hostname_matched is True
