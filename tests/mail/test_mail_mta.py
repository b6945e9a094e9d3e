"""The harness MTA client against the sink and against misbehaving MXs (real loopback sockets)."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from mssante_conformance.mail.mta import MtaOutcome, MtaStep, dot_stuff, parse_tls_version, send_as_mta
from mssante_conformance.pki import HARNESS_DOMAIN as SINK_DOMAIN

BAL = f"medecin.traitant@{SINK_DOMAIN}"


def send(address, **options):
    options.setdefault("message", b"Subject: OPI-IN essai\r\n\r\ncorps\r\n")
    options.setdefault("rcpt_to", BAL)
    return send_as_mta(*address, helo=f"mta.{SINK_DOMAIN}", mail_from=f"robot@{SINK_DOMAIN}", timeout=3, **options)


def test_starttls_with_an_igc_sante_client_certificate_delivers(sink, pki):
    body = b"Subject: OPI-IN-02 livraison\r\nMessage-ID: <1@h>\r\n\r\n.debut par un point\r\nfin\r\n"
    result = send(sink.address, message=body, client_cert=pki.harness_mta.cert, client_key=pki.harness_mta.key, ca_file=pki.ca_file)
    assert result.outcome is MtaOutcome.DELIVERED and result.delivered and not result.refused
    assert result.step is MtaStep.MESSAGE and result.reply.code == 250
    assert result.starttls_offered and "STARTTLS" not in result.extensions  # EHLO after TLS
    assert result.tls.version in ("TLSv1.2", "TLSv1.3") and result.tls.verified and result.tls.client_certificate
    assert result.tls.hostname_matched  # the sink certificate names 127.0.0.1
    assert result.rcpt_replies[0][1].code == 250
    assert "C: STARTTLS" in result.transcript and not any("fin" in line for line in result.transcript)
    [message] = sink.messages()
    assert message.data == body  # dot-stuffing undone by the MX: the message is intact
    assert message.tls.client_certificate.chains_to_ca


def test_without_starttls_the_sink_refuses_with_530_at_mail(sink):
    result = send(sink.address, starttls=False)
    assert result.outcome is MtaOutcome.REFUSED and result.refused
    assert result.step is MtaStep.MAIL
    assert result.reply.code == 530 and "STARTTLS" in result.reply.text
    assert result.tls is None and result.starttls_offered is True
    assert sink.messages() == []


def test_tls_1_0_forced_against_a_tls_1_2_sink_is_a_handshake_failure(sink, pki):
    result = send(sink.address, tls_version="TLSv1", client_cert=pki.harness_mta.cert, client_key=pki.harness_mta.key)
    assert result.outcome is MtaOutcome.TLS_FAILED and result.refused
    assert result.step is MtaStep.TLS_HANDSHAKE
    assert result.tls is None and result.reply is None
    assert "TLS" in result.detail
    assert sink.messages() == []


def test_untrusted_mx_certificate_is_a_tls_failure_when_a_ca_is_given(sink, pki):
    result = send(sink.address, ca_file=pki.foreign_ca_file)
    assert result.outcome is MtaOutcome.TLS_FAILED and result.step is MtaStep.TLS_HANDSHAKE
    assert "non vérifié" in result.detail


def test_refused_recipient_and_trusted_cert_policy(make_sink, pki):
    sink = make_sink(require_trusted_client_cert=True)
    no_cert = send(sink.address)
    assert no_cert.outcome is MtaOutcome.REFUSED and no_cert.step is MtaStep.EHLO_AFTER_TLS
    assert no_cert.reply.code == 554
    outside = send(sink.address, rcpt_to="x@hors-espace.test", client_cert=pki.harness_mta.cert, client_key=pki.harness_mta.key)
    assert outside.outcome is MtaOutcome.REFUSED and outside.step is MtaStep.RCPT and outside.reply.code == 554


class FakeMx:
    """A one-shot TCP server that misbehaves in a chosen way."""

    def __init__(self, behaviour: str) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = self.server.getsockname()
        self.behaviour = behaviour
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        try:
            if self.behaviour == "silent":
                self.done.wait(10)
            elif self.behaviour == "garbage":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                self.done.wait(10)
            elif self.behaviour == "drop_after_ehlo":
                conn.sendall(b"220 mx ESMTP\r\n")
                conn.recv(1024)
                conn.sendall(b"250-mx\r\n250 STARTTLS\r\n")
                conn.recv(1024)  # STARTTLS
                conn.close()
            elif self.behaviour == "busy":
                conn.sendall(b"421 4.3.2 Service not available\r\n")
                self.done.wait(10)
        finally:
            conn.close()
            self.server.close()

    def close(self) -> None:
        self.done.set()


@pytest.mark.parametrize(
    "behaviour, outcome, step",
    [
        ("silent", MtaOutcome.TIMEOUT, MtaStep.GREETING),
        ("garbage", MtaOutcome.PROTOCOL_ERROR, MtaStep.GREETING),
        ("drop_after_ehlo", MtaOutcome.DROPPED, MtaStep.STARTTLS),
        ("busy", MtaOutcome.REFUSED, MtaStep.GREETING),
    ],
)
def test_misbehaving_mx_ends_in_a_result_never_a_hang_or_crash(behaviour, outcome, step):
    mx = FakeMx(behaviour)
    try:
        result = send_as_mta(*mx.address, helo="h", mail_from="a@b.test", rcpt_to="c@d.test", message=b"x", timeout=0.5)
    finally:
        mx.close()
    assert (result.outcome, result.step) == (outcome, step), result.detail
    assert result.transcript[-1].startswith("*: ")  # the reason is noted in the transcript


def test_connection_refused_is_reported():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    result = send(("127.0.0.1", port))
    assert result.outcome is MtaOutcome.CONNECT_FAILED and result.step is MtaStep.CONNECT


def test_pure_helpers():
    assert dot_stuff(b"a\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert parse_tls_version("1.1") is ssl.TLSVersion.TLSv1_1
    assert parse_tls_version("TLSv1.3") is ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValueError, match="version TLS inconnue"):
        parse_tls_version("SSLv3")
