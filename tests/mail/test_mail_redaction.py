"""Redaction: no token survives in a transcript, in any of its forms."""

import base64
import json

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.mail.sasl import oauthbearer_initial_response, xoauth2_initial_response
from mssante_conformance.mail.transcript import Transcript, redact

TOKEN = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4OTk3MDAzNjYyNDAifQ.c2lnbmF0dXJl"
OPAQUE = "opaque-secret-1234567890"


def test_every_form_of_a_registered_token_is_replaced_by_its_fingerprint():
    tr = Transcript(secrets=[TOKEN, OPAQUE])
    forms = [
        f"A001 AUTHENTICATE XOAUTH2 {xoauth2_initial_response('jean.dupont@op.test', TOKEN)}",
        f"AUTH OAUTHBEARER {oauthbearer_initial_response('jean.dupont@op.test', TOKEN, 'h', 1)}",
        xoauth2_initial_response("autre@op.test", OPAQUE),
        base64.b64encode(TOKEN.encode()).decode(),
        base64.b64encode(OPAQUE.encode()).decode().rstrip("="),
        f"raw {TOKEN} and {OPAQUE}",
        f'A002 LOGIN "jean" "{OPAQUE}"',
        "AUTH PLAIN " + base64.b64encode(f"\0jean\0{OPAQUE}".encode()).decode(),
    ]
    for form in forms:
        tr.client(form)
    stored = json.dumps(tr.to_dict())
    for secret in (TOKEN, OPAQUE):
        assert secret not in stored
        assert base64.b64encode(secret.encode()).decode().rstrip("=") not in stored
    for form in forms:
        assert form not in stored
    assert f"<jeton {fingerprint(TOKEN)}>" in stored
    assert f"<jeton {fingerprint(OPAQUE)}>" in stored
    assert "A001 AUTHENTICATE XOAUTH2 <jeton" in stored


def test_safety_nets_catch_unregistered_tokens():
    unregistered = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    bearer_b64 = xoauth2_initial_response("x@op.test", "some-opaque-token-value")
    for text in (
        f"Authorization: Bearer some-opaque-token-value",
        f"user=x\x01auth=Bearer some-opaque-token-value\x01\x01",
        f"A1 AUTHENTICATE XOAUTH2 {bearer_b64}",
        f"token={unregistered}",
    ):
        clean = redact(text)
        assert "some-opaque-token-value" not in clean
        assert unregistered not in clean
        assert "<jeton sha256:" in clean


def test_ordinary_lines_are_untouched():
    challenge = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"mail"}').decode()
    for line in (f"+ {challenge}", "A001 NO [AUTHENTICATIONFAILED] Authentication failed.", "250-AUTH XOAUTH2 OAUTHBEARER"):
        assert redact(line, [TOKEN]) == line


def test_entries_are_timestamped_and_ordered():
    tr = Transcript()
    tr.client("A1 NOOP")
    tr.server("A1 OK NOOP completed.")
    data = tr.to_dict()
    assert [e["dir"] for e in data["entries"]] == ["C", "S"]
    assert data["entries"][0]["t"] <= data["entries"][1]["t"]
    assert tr.lines() == ["C: A1 NOOP", "S: A1 OK NOOP completed."]
