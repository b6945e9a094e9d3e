"""Faults: each one a specific exception with a one-line reason, never a hang."""

import pytest

from mail_peers import closed_port
from mssante_conformance.mail import (
    ConnectionFailed,
    EndpointError,
    ImapProbe,
    ProbeTimeout,
    ProtocolMismatch,
    SmtpProbe,
    TlsFailure,
)

PROBES = [ImapProbe, SmtpProbe]


def _one_line(exc):
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


def _scheme(probe_class, tls=False):
    base = "imap" if probe_class is ImapProbe else "smtp"
    return base + ("s" if tls else "")


@pytest.mark.parametrize("probe_class", PROBES)
def test_unknown_scheme(probe_class):
    with pytest.raises(EndpointError) as info:
        probe_class("pop3://127.0.0.1:110")
    assert "pop3" in _one_line(info.value)


@pytest.mark.parametrize("probe_class", PROBES)
def test_connection_refused(probe_class):
    with probe_class(f"{_scheme(probe_class)}://127.0.0.1:{closed_port()}", timeout=2) as p:
        with pytest.raises(ConnectionFailed) as info:
            p.connect()
    assert "refusée" in _one_line(info.value) and info.value.step == "connect"


@pytest.mark.parametrize("probe_class", PROBES)
def test_silent_server_times_out(probe_class, hang_server):
    with probe_class(f"{_scheme(probe_class)}://127.0.0.1:{hang_server.port}", timeout=0.5) as p:
        with pytest.raises(ProbeTimeout) as info:
            p.connect()
    assert info.value.step == "greeting" and "0.5 s" in _one_line(info.value)


@pytest.mark.parametrize("probe_class", PROBES)
def test_not_an_imap_or_smtp_server(probe_class, http_server):
    with probe_class(f"{_scheme(probe_class)}://127.0.0.1:{http_server.port}", timeout=2) as p:
        with pytest.raises(ProtocolMismatch) as info:
            p.connect()
    assert "HTTP/1.1 400" in _one_line(info.value)


@pytest.mark.parametrize("probe_class", PROBES)
def test_implicit_tls_to_a_plaintext_server(probe_class, http_server):
    with probe_class(f"{_scheme(probe_class, tls=True)}://127.0.0.1:{http_server.port}", timeout=2) as p:
        with pytest.raises(TlsFailure) as info:
            p.connect()
    assert info.value.step == "tls"
    _one_line(info.value)


@pytest.mark.parametrize("probe_class", PROBES)
def test_implicit_tls_to_a_silent_server(probe_class, hang_server):
    with probe_class(f"{_scheme(probe_class, tls=True)}://127.0.0.1:{hang_server.port}", timeout=0.5) as p:
        with pytest.raises(ProbeTimeout) as info:
            p.connect()
    assert info.value.step == "tls"


def test_wrong_protocol_for_the_probe():
    with pytest.raises(ConnectionFailed):
        ImapProbe("smtp://127.0.0.1:25")


def test_server_that_hangs_up_after_the_greeting(serve):
    from mssante_conformance.mail import ConnectionLost

    def greet_and_hang_up(server, peer):
        peer.say("* OK [CAPABILITY IMAP4rev1] ready")
        peer.hear()

    server = serve(greet_and_hang_up)
    with ImapProbe(f"imap://127.0.0.1:{server.port}", timeout=2) as p:
        p.connect()
        with pytest.raises(ConnectionLost) as info:
            p.noop()
    assert "fermé" in _one_line(info.value)


def test_silence_during_authentication_is_a_classified_attempt(serve):
    from mail_peers import banner_session
    from mssante_conformance.mail import AuthOutcome

    server = serve(banner_session("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready"))
    with ImapProbe(f"imap://127.0.0.1:{server.port}", timeout=0.5) as p:
        p.connect()
        attempt = p.authenticate_raw("XOAUTH2", "dXNlcj14AWF1dGg9QmVhcmVyIHQBAQ==")
    assert attempt.outcome is AuthOutcome.NO_RESPONSE and attempt.status == ""


def test_smtp_untrusted_certificate_goes_on_unverified_when_allowed(smtp_server, tls_material):
    from mssante_conformance.mail import CertificateNotTrusted

    url = f"smtp://127.0.0.1:{smtp_server.port}"
    with SmtpProbe(url, ca_file=tls_material.foreign_ca_file, timeout=3) as p:
        p.connect()
        p.ehlo()
        with pytest.raises(CertificateNotTrusted):
            p.starttls()
    with SmtpProbe(url, ca_file=tls_material.foreign_ca_file, timeout=3, allow_unverified=True) as p:
        p.connect()
        p.ehlo()
        info = p.starttls()
        assert info.verified is False and info.verify_error and info.hostname_matched
        assert "XOAUTH2" in p.ehlo().auth_mechanisms
