"""The operator-interface verdict rules (``suites.operator_interface.judgement``): pure
functions of what the peer did, unit-tested without a server."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

from mssante_conformance.mail.mta import MtaDelivery, MtaOutcome, MtaReply, MtaStep
from mssante_conformance.mail.sink_tls import PeerCertificate, TlsFacts
from mssante_conformance.mail.tls import TlsInfo
from mssante_conformance.suites.operator_interface import judgement


def _delivery(outcome=MtaOutcome.DELIVERED, step=MtaStep.MESSAGE, *, tls_version="TLSv1.3",
              starttls_offered=True, reply=MtaReply(250, "Ok")) -> MtaDelivery:
    tls = None if tls_version is None else TlsInfo("127.0.0.3", tls_version, "X", 128, None, True, None, True)
    return MtaDelivery(outcome, step, reply, "détail", tls, starttls_offered, (), (), ())


def test_legacy_and_modern_tls_verdicts():
    assert judgement.legacy_tls_verdict("TLSv1", _delivery(MtaOutcome.TLS_FAILED, MtaStep.TLS_HANDSHAKE,
                                                          tls_version=None, reply=None)) is None
    assert "accepte TLSv1" in judgement.legacy_tls_verdict("TLSv1", _delivery(tls_version="TLSv1"))
    assert judgement.modern_tls_verdict(_delivery()) is None
    assert "STARTTLS" in judgement.modern_tls_verdict(_delivery(starttls_offered=False, tls_version=None))
    assert "inférieure" in judgement.modern_tls_verdict(_delivery(tls_version="TLSv1.1"))
    assert judgement.server_certificate_verdict(_delivery(), "127.0.0.3") is None
    unverified = MtaDelivery(MtaOutcome.TLS_FAILED, MtaStep.TLS_HANDSHAKE, None,
                             "certificat du MX non vérifié : unable to get local issuer certificate",
                             None, True, (), (), ())
    assert judgement.certificate_unverified(unverified)
    assert "ne chaîne pas" in judgement.server_certificate_verdict(unverified, "127.0.0.3")


def _peer(**changes) -> TlsFacts:
    cert = dict(subject="CN=mta", issuer="CN=TEST AC", serial="1", not_before="", not_after="2030",
                sha256="00", policy_oids=("1.2.250.1.213.1.7.2.1.1.1.1",), chains_to_ca=True,
                chain_error=None, valid_now=True)
    cert.update(changes)
    return TlsFacts("TLSv1.3", "X", 256, PeerCertificate(**cert))


def test_client_certificate_verdict():
    assert judgement.client_certificate_verdict(_peer()) is None
    assert "aucun certificat" in judgement.client_certificate_verdict(TlsFacts("TLSv1.3", "X", 256, None))
    assert "ne remonte pas" in judgement.client_certificate_verdict(_peer(chains_to_ca=False, chain_error="x"))
    assert "validité" in judgement.client_certificate_verdict(_peer(valid_now=False))
    assert "politique" in judgement.client_certificate_verdict(_peer(policy_oids=("2.5.29.32.0",)))
    assert "sans TLS" in judgement.client_certificate_verdict(None)


def _message(**headers) -> bytes:
    m = EmailMessage()
    fields = {"From": "bal@op.test", "To": "x@harnais.test", "Subject": "[conformite] OPI-1",
              "Date": formatdate(), "Message-ID": "<1@op.test>", **headers}
    for k, v in fields.items():
        if v is not None:
            m[k] = v
    m.set_content("Corps.\n.point\n")
    return bytes(m)


def test_message_verdict():
    sent = _message()
    relayed = b"Received: from mx.op.test\r\n" + sent.replace(b"\n", b"\r\n")
    assert judgement.message_verdict(relayed, bal="BAL@op.test", sent=sent, marker="OPI-1") is None
    assert "Message-ID" in judgement.message_verdict(_message(**{"Message-ID": None}), bal=None, sent=None, marker="OPI-1")
    assert "Date" in judgement.message_verdict(_message(Date=None), bal=None, sent=None, marker="OPI-1")
    assert "pas la BAL" in judgement.message_verdict(_message(From="autre@op.test"), bal="bal@op.test", sent=None, marker="OPI-1")
    assert "marqueur" in judgement.message_verdict(sent, bal=None, sent=None, marker="OPI-2")
    altered = sent.replace(b"Corps.", b"Corps modifie.")
    assert "corps" in judgement.message_verdict(altered, bal=None, sent=sent, marker="OPI-1")
    rewritten = _message(To="y@harnais.test")
    assert "To" in judgement.message_verdict(rewritten, bal=None, sent=sent, marker="OPI-1")
    assert judgement.tls_at_least_1_2("TLSv1.2") and not judgement.tls_at_least_1_2("TLSv1.1")
