"""SmtpProbe against aiosmtpd over loopback (STARTTLS with a throw-away certificate, XOAUTH2)."""

import json

import pytest

from mail_peers import BAL, VALID_TOKEN
from mssante_conformance.mail import AuthOutcome, SmtpProbe, StartTlsRefused

BAD_TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.bm9uZS1zaWduZWQtdG9rZW4"


def probe(controller, material, **kw):
    return SmtpProbe(f"smtp://127.0.0.1:{controller.port}", ca_file=material.ca_file, timeout=3, **kw)


def test_before_tls_auth_is_refused(smtp_server, tls_material):
    with probe(smtp_server, tls_material) as p:
        assert p.connect().code == 220
        ehlo = p.ehlo()
        assert ehlo.ok and ehlo.starttls and not ehlo.auth_mechanisms
        attempt = p.authenticate_xoauth2(BAL, VALID_TOKEN)
        assert attempt.outcome is AuthOutcome.REJECTED and attempt.code == "PRIVACYREQUIRED"
        assert attempt.status in ("530", "538")
        assert p.mail_from(BAL).code == 530
    assert VALID_TOKEN not in json.dumps(p.transcript.to_dict())


def test_starttls_xoauth2_and_a_message(smtp_server, tls_material):
    with probe(smtp_server, tls_material) as p:
        p.connect()
        p.ehlo()
        info = p.starttls()
        assert info.verified and info.hostname_matched
        ehlo = p.ehlo()
        assert "XOAUTH2" in ehlo.auth_mechanisms and not ehlo.starttls
        attempt = p.authenticate_xoauth2(BAL, VALID_TOKEN)
        assert attempt.accepted and attempt.status == "235"
        assert p.mail_from(BAL).code == 250
        assert p.rcpt_to("autre@op.test").code == 250
        message = b"From: jean.dupont@op.test\r\nSubject: essai\r\n\r\n.ligne avec point\r\nfin\r\n"
        assert p.data(message).code == 250
        assert p.quit().code == 221
    received = smtp_server.handler_obj.messages
    assert received and received[0].replace(b"\r\n", b"\n") == message.replace(b"\r\n", b"\n")
    stored = json.dumps(p.transcript.to_dict())
    assert VALID_TOKEN not in stored and "AUTH XOAUTH2 <jeton sha256:" in stored


def test_failure_convention_334_empty_line_535(smtp_server, tls_material):
    with probe(smtp_server, tls_material) as p:
        p.connect()
        p.ehlo()
        p.starttls()
        p.ehlo()
        attempt = p.authenticate_xoauth2(BAL, BAD_TOKEN)
        assert (attempt.outcome, attempt.status, attempt.code) == (AuthOutcome.REJECTED, "535", "AUTHENTICATIONFAILED")
        assert attempt.challenge.status == "401" and attempt.followed_failure_convention
        assert p.noop().code == 250  # still usable
        assert p.authenticate_xoauth2(BAL, VALID_TOKEN, initial_response=False).accepted
    assert BAD_TOKEN not in json.dumps(p.transcript.to_dict())


@pytest.mark.parametrize("payload, status", [("%%%", "501"), (None, "501")])
def test_malformed_and_cancelled(smtp_server, tls_material, payload, status):
    with probe(smtp_server, tls_material) as p:
        p.connect()
        p.ehlo()
        p.starttls()
        p.ehlo()
        if payload is None:
            attempt = p.authenticate_xoauth2(BAL, BAD_TOKEN, answer_challenge=False)
        else:
            attempt = p.authenticate_raw("XOAUTH2", payload)
        assert attempt.rejected and attempt.status == status


def test_starttls_refused_is_a_specific_error(tls_material):
    from aiosmtpd.controller import Controller

    from mail_peers import XOAuth2Handler, free_port

    controller = Controller(XOAuth2Handler(), hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    controller.start()
    try:
        with probe(controller, tls_material) as p:
            p.connect()
            assert not p.ehlo().starttls
            with pytest.raises(StartTlsRefused) as info:
                p.starttls()
        assert info.value.answer[:1] in ("4", "5") and "\n" not in str(info.value)
    finally:
        controller.stop()
