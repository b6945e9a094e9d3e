"""ImapProbe against a scripted Dovecot-like server over loopback (real sockets, real TLS)."""

import json

import pytest

from mail_peers import BAL, CAPS_TLS, MESSAGE, VALID_TOKEN
from mssante_conformance.mail import AuthOutcome, CertificateNotTrusted, ImapProbe, StartTlsRefused, Transcript

BAD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJleHBpcmVkIn0.ZXhwaXJlZC1zaWduYXR1cmU"


def probe(server, material, scheme="imap", **kw):
    return ImapProbe(f"{scheme}://127.0.0.1:{server.port}", Transcript(secrets=[]), ca_file=material.ca_file, timeout=3, **kw)


def test_before_starttls_logindisabled_and_privacy_required(fake_imap, tls_material):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        caps = p.capabilities()
        assert {"STARTTLS", "LOGINDISABLED"} <= caps
        assert p.login_plaintext(BAL, "mot-de-passe-secret").code == "PRIVACYREQUIRED"
        attempt = p.authenticate_xoauth2(BAL, VALID_TOKEN)
        assert attempt.outcome is AuthOutcome.REJECTED and attempt.code == "PRIVACYREQUIRED"
        stored = json.dumps(p.transcript.to_dict())
        assert "mot-de-passe-secret" not in stored and VALID_TOKEN not in stored


def test_starttls_then_xoauth2_with_sasl_ir_and_read_back(fake_imap, tls_material):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        info = p.starttls()
        assert info.verified and info.hostname_matched and info.version in ("TLSv1.2", "TLSv1.3")
        assert info.certificate.subject.startswith("CN=localhost") and "127.0.0.1" in info.certificate.sans
        assert set(CAPS_TLS.upper().split()) <= p.capabilities()
        attempt = p.authenticate_xoauth2(BAL, VALID_TOKEN)
        assert attempt.accepted and attempt.status == "OK" and attempt.challenge is None
        assert p.select("INBOX").ok
        uids = p.search_header("X-Test-Id", "run-42")
        assert uids == (7,)
        assert p.fetch_message(7) == MESSAGE
        assert p.logout().ok
    # SASL-IR: mechanism and initial response on one line, as the server received it
    auth_line = next(line for line in fake_imap.received if " AUTHENTICATE " in line)
    assert auth_line.split()[2:3] == ["XOAUTH2"] and len(auth_line.split()) == 4
    stored = json.dumps(p.transcript.to_dict())
    assert VALID_TOKEN not in stored and "<jeton sha256:" in stored
    assert p.transcript.to_dict()["tls"][0]["verified"] is True


def test_failure_convention_is_followed_and_session_stays_usable(fake_imap, tls_material):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        p.starttls()
        attempt = p.authenticate_xoauth2(BAL, BAD_TOKEN)
        assert attempt.outcome is AuthOutcome.REJECTED
        assert (attempt.status, attempt.code) == ("NO", "AUTHENTICATIONFAILED")
        assert attempt.challenge.status == "401" and attempt.challenge.schemes == "bearer"
        assert attempt.followed_failure_convention
        assert p.noop().ok
    # the client answered the challenge with an empty line
    idx = next(i for i, line in enumerate(fake_imap.received) if "AUTHENTICATE" in line)
    assert fake_imap.received[idx + 1] == ""
    assert BAD_TOKEN not in json.dumps(attempt.to_dict())


def test_without_initial_response_and_cancelled_challenge(fake_imap, tls_material):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        p.starttls()
        attempt = p.authenticate_xoauth2(BAL, VALID_TOKEN, initial_response=False)
        assert attempt.accepted
    with probe(fake_imap, tls_material) as p:
        p.connect()
        p.starttls()
        attempt = p.authenticate_xoauth2(BAL, BAD_TOKEN, answer_challenge=False)
        assert (attempt.status, attempt.answered_challenge) == ("BAD", False)


@pytest.mark.parametrize("payload, status", [("%%%not-base64%%%", "BAD"), ("dXNlcj1ub2JvZHk=", "NO")])
def test_malformed_payloads(fake_imap, tls_material, payload, status):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        p.starttls()
        attempt = p.authenticate_raw("XOAUTH2", payload)
        assert attempt.outcome is AuthOutcome.REJECTED and attempt.status == status
        assert p.noop().ok


def test_implicit_tls(fake_imaps, tls_material):
    with probe(fake_imaps, tls_material, scheme="imaps") as p:
        greeting = p.connect()
        assert "AUTH=XOAUTH2" in greeting and p.tls_info.verified
        assert p.authenticate_xoauth2(BAL, VALID_TOKEN).accepted


def test_untrusted_certificate_raises_or_goes_on_unverified(fake_imaps, fake_imap, tls_material):
    url = f"imaps://127.0.0.1:{fake_imaps.port}"
    with ImapProbe(url, ca_file=tls_material.foreign_ca_file, timeout=3) as p:
        with pytest.raises(CertificateNotTrusted) as info:
            p.connect()
        assert "certificate verify failed" in info.value.verify_error or info.value.verify_error
    with ImapProbe(url, ca_file=tls_material.foreign_ca_file, timeout=3, allow_unverified=True) as p:
        p.connect()
        assert p.tls_info.verified is False and p.tls_info.verify_error
        assert p.tls_info.hostname_matched is True
        assert p.authenticate_xoauth2(BAL, VALID_TOKEN).accepted
    with ImapProbe(f"imap://127.0.0.1:{fake_imap.port}", ca_file=tls_material.foreign_ca_file, timeout=3, allow_unverified=True) as p:
        p.connect()
        info = p.starttls()
        assert info.verified is False
        assert p.authenticate_xoauth2(BAL, VALID_TOKEN).accepted
        assert any("reprise sans vérification" in line for line in p.transcript.lines())


def test_starttls_refused(fake_imap, tls_material):
    with probe(fake_imap, tls_material) as p:
        p.connect()
        p.starttls()
        with pytest.raises(StartTlsRefused) as info:
            p.starttls()  # already under TLS: the server answers BAD
        assert info.value.answer.startswith("BAD")
