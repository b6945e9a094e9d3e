"""The probes against the real reference operator (Dovecot + Postfix on loopback), which
validates the tokens of a real bouchon by introspection."""

from __future__ import annotations

import json

import pytest

from mssante_conformance.mail import AuthOutcome, ImapProbe, SmtpProbe, Transcript
from mssante_conformance.mail.tls import scan_endpoints
from mssante_conformance.reference import ReferenceOperator

@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    """The reference operator validating tokens at a real bouchon; yields (operator, BAL, tokens)."""
    from mssante_conformance.psc import Bouchon
    from mssante_conformance.reference import load_directory

    mailbox = next(m for m in load_directory().mailboxes if m.kind == "PER" and m.holders)
    with Bouchon.start(tmp_path_factory.mktemp("bouchon"), host="127.0.0.1", port=0) as bouchon:
        with ReferenceOperator(tmp_path_factory.mktemp("ref-op"), bouchon) as op:
            yield op, mailbox.address, bouchon, mailbox.holders[0]


@pytest.fixture
def tokens(operator):
    """A fresh valid token of the BAL holder and an expired one (tokens live 120 s)."""
    _, _, bouchon, idnat = operator
    return (bouchon.mint("valid", idnat=idnat).token, bouchon.mint("expired", idnat=idnat).token)


def _imap(op, kind="imap"):
    return ImapProbe(op.endpoints[kind], Transcript(), ca_file=str(op.ca_file), timeout=5)


def _smtp(op, kind="smtp"):
    return SmtpProbe(op.endpoints[kind], Transcript(), ca_file=str(op.ca_file), timeout=5)


def test_imap_refuses_authentication_before_tls(operator, tokens):
    op, bal, _, _ = operator
    VALID, INACTIVE = tokens
    with _imap(op) as p:
        p.connect()
        assert {"STARTTLS", "LOGINDISABLED"} <= p.capabilities()
        assert p.login_plaintext(bal, "mot-de-passe").code == "PRIVACYREQUIRED"
        attempt = p.authenticate_xoauth2(bal, VALID)
        assert (attempt.outcome, attempt.code) == (AuthOutcome.REJECTED, "PRIVACYREQUIRED")


def test_imap_starttls_sasl_ir_valid_token_and_failure_convention(operator, tokens):
    op, bal, _, _ = operator
    VALID, INACTIVE = tokens
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
    op, bal, _, _ = operator
    with _imap(op, "imaps") as p:
        p.connect()
        assert p.tls_info.verified
        attempt = p.authenticate_raw("XOAUTH2", "%%%pas-du-base64%%%")
        assert attempt.rejected and attempt.status in ("NO", "BAD")
        assert p.noop().ok


def test_smtp_submission(operator, tokens):
    op, bal, _, _ = operator
    VALID, INACTIVE = tokens
    with _smtp(op) as p:
        p.connect()
        assert p.ehlo().starttls
        before = p.authenticate_xoauth2(bal, VALID)
        assert before.rejected and before.code == "PRIVACYREQUIRED" and before.status in ("523", "530")
        assert p.starttls().verified
        assert "XOAUTH2" in p.ehlo().auth_mechanisms
        bad = p.authenticate_xoauth2(bal, INACTIVE)
        assert (bad.status, bad.code) == ("535", "AUTHENTICATIONFAILED") and bad.followed_failure_convention
        assert p.authenticate_xoauth2(bal, VALID).accepted
        p.quit()
    with _smtp(op, "smtps") as p:
        p.connect()
        assert p.tls_info.verified and p.ehlo().ok


def test_tls_scan_of_the_lps_endpoints(operator):
    op = operator[0]
    kinds = ("imap", "smtps")  # one STARTTLS, one implicit TLS: enough, and scans take seconds
    results = scan_endpoints([op.endpoints[k] for k in kinds], ca_file=str(op.ca_file), versions=("tls1_0", "tls1_2"))
    for result in results:
        assert result.error is None, result.error
        assert result.versions == {"tls1_0": False, "tls1_2": True}
        assert result.chain_valid is True and result.hostname_matched is True
