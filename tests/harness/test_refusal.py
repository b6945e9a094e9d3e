"""The refusal table (mssante_conformance.mail.refusal): what counts as a definite refusal.

Pure: server answers in, verdicts out. The drivers' values (AuthAttempt, MtaDelivery, probe
errors) are built by hand as the drivers build them.
"""

from __future__ import annotations

import pytest

from mssante_conformance.catalog import REFUSAL_KINDS, load_catalog
from mssante_conformance.mail.classify import AuthAttempt, AuthOutcome
from mssante_conformance.mail.errors import (
    CertificateNotTrusted,
    ConnectionFailed,
    ConnectionLost,
    ProbeTimeout,
    TlsFailure,
)
from mssante_conformance.mail.mta import MtaDelivery, MtaOutcome, MtaReply, MtaStep
from mssante_conformance.mail.refusal import (
    REFUSAL_KINDS as LABELS,
    Answer,
    Verdict,
    auth_answer,
    delivery_answer,
    imap_answer,
    judge,
    probe_error_answer,
    smtp_answer,
    tls_alert_in,
)

SMTP = ("smtp_5xx",)
MX = ("smtp_5xx", "tls_handshake", "smtp_4xx_tls_policy")
CERT = ("imap_no_bad", "tls_handshake")


def test_catalog_and_table_know_the_same_refusal_kinds():
    assert set(LABELS) == set(REFUSAL_KINDS)


@pytest.mark.parametrize("answer, kinds, verdict, retry", [
    (Answer.ACCEPTED, SMTP, Verdict.ACCEPTED, False),
    (Answer.SMTP_5XX, SMTP, Verdict.REFUSED, False),
    (Answer.SMTP_5XX, ("tls_handshake",), Verdict.INCONCLUSIVE, False),  # refused, not where expected
    (Answer.IMAP_NO_BAD, ("imap_no_bad",), Verdict.REFUSED, False),
    (Answer.TLS_HANDSHAKE, MX, Verdict.REFUSED, False),
    (Answer.TLS_HANDSHAKE, SMTP, Verdict.INCONCLUSIVE, False),
    (Answer.SMTP_4XX, SMTP, Verdict.INCONCLUSIVE, True),
    (Answer.IMAP_TRANSIENT, ("imap_no_bad",), Verdict.INCONCLUSIVE, True),
    (Answer.DROPPED, MX, Verdict.INCONCLUSIVE, False),
    (Answer.TIMEOUT, MX, Verdict.INCONCLUSIVE, False),
    (Answer.UNREACHABLE, MX, Verdict.INCONCLUSIVE, False),
    (Answer.UNVERIFIED, MX, Verdict.INCONCLUSIVE, False),
    (Answer.VIOLATION, SMTP, Verdict.VIOLATION, False),
])
def test_table(answer, kinds, verdict, retry):
    judgement = judge(answer, kinds, code="x", said="ce que le serveur a dit")
    assert (judgement.verdict, judgement.retry) == (verdict, retry)
    assert "ce que le serveur a dit" in judgement.reason
    assert judgement.refused is (verdict is Verdict.REFUSED)


def test_a_tls_policy_4xx_counts_only_when_the_retry_gives_it_again():
    first = judge(Answer.SMTP_4XX_TLS_POLICY, MX, code="421 4.7.1")
    assert (first.verdict, first.retry) == (Verdict.INCONCLUSIVE, True)
    again = judge(Answer.SMTP_4XX_TLS_POLICY, MX, code="421 4.7.1", confirmed=True)
    assert again.verdict is Verdict.REFUSED
    not_listed = judge(Answer.SMTP_4XX_TLS_POLICY, SMTP, confirmed=True)
    assert not_listed.verdict is Verdict.INCONCLUSIVE


def test_a_refusal_of_another_kind_says_what_was_expected():
    reason = judge(Answer.SMTP_5XX, ("tls_handshake",)).reason
    assert "alors que le contrôle attend" in reason and "TLS" in reason


@pytest.mark.parametrize("kinds", [(), ("smtp_535",)])
def test_unknown_or_empty_kinds_are_a_harness_fault(kinds):
    with pytest.raises(ValueError):
        judge(Answer.SMTP_5XX, kinds)


@pytest.mark.parametrize("code, answer", [
    (235, Answer.ACCEPTED), (250, Answer.ACCEPTED), (535, Answer.SMTP_5XX), (554, Answer.SMTP_5XX),
    (530, Answer.SMTP_5XX), (454, Answer.SMTP_4XX), (421, Answer.SMTP_4XX), (334, Answer.VIOLATION),
    (-1, Answer.VIOLATION), (600, Answer.VIOLATION),
])
def test_smtp_codes(code, answer):
    assert smtp_answer(code) is answer


@pytest.mark.parametrize("status, code, answer", [
    ("OK", None, Answer.ACCEPTED), ("NO", "AUTHENTICATIONFAILED", Answer.IMAP_NO_BAD),
    ("NO", None, Answer.IMAP_NO_BAD), ("BAD", "MALFORMED", Answer.IMAP_NO_BAD), ("BYE", None, Answer.IMAP_NO_BAD),
    ("NO", "UNAVAILABLE", Answer.IMAP_TRANSIENT), ("no", "serverbug", Answer.IMAP_TRANSIENT),
    ("", None, Answer.VIOLATION),
])
def test_imap_statuses(status, code, answer):
    assert imap_answer(status, code) is answer


@pytest.mark.parametrize("attempt, answer, code", [
    (AuthAttempt("XOAUTH2", AuthOutcome.REJECTED, "535", "AUTHENTICATIONFAILED", "5.7.8 failed"), Answer.SMTP_5XX, "535"),
    (AuthAttempt("XOAUTH2", AuthOutcome.REJECTED, "454", "UNAVAILABLE", "4.7.0 try later"), Answer.SMTP_4XX, "454"),
    (AuthAttempt("XOAUTH2", AuthOutcome.REJECTED, "NO", "AUTHENTICATIONFAILED"), Answer.IMAP_NO_BAD, "NO AUTHENTICATIONFAILED"),
    (AuthAttempt("XOAUTH2", AuthOutcome.REJECTED, "NO", "UNAVAILABLE"), Answer.IMAP_TRANSIENT, "NO UNAVAILABLE"),
    (AuthAttempt("XOAUTH2", AuthOutcome.ACCEPTED, "OK"), Answer.ACCEPTED, "OK"),
    (AuthAttempt("XOAUTH2", AuthOutcome.ACCEPTED, "235"), Answer.ACCEPTED, "235"),
    (AuthAttempt("XOAUTH2", AuthOutcome.CONNECTION_CLOSED), Answer.DROPPED, ""),
    (AuthAttempt("XOAUTH2", AuthOutcome.NO_RESPONSE), Answer.TIMEOUT, ""),
    (AuthAttempt("XOAUTH2", AuthOutcome.PROTOCOL_VIOLATION, "250"), Answer.VIOLATION, "250"),
])
def test_authentication_attempts(attempt, answer, code):
    assert auth_answer(attempt) == (answer, code)


def test_a_token_refusal_needs_a_definite_answer():
    """The issue's case: CONNECTION_CLOSED used to pass a token rejection check."""
    closed = judge(auth_answer(AuthAttempt("XOAUTH2", AuthOutcome.CONNECTION_CLOSED))[0], ("imap_no_bad",))
    assert closed.verdict is Verdict.INCONCLUSIVE
    temporary = judge(auth_answer(AuthAttempt("XOAUTH2", AuthOutcome.REJECTED, "454"))[0], SMTP)
    assert temporary.verdict is Verdict.INCONCLUSIVE and temporary.retry


@pytest.mark.parametrize("text, alert", [
    ("erreur TLS de 127.0.0.2:993 : TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    ("échec : sslv3 alert bad certificate (SSLV3_ALERT_BAD_CERTIFICATE)", "SSLV3_ALERT_BAD_CERTIFICATE"),
    ("tlsv1_alert_unknown_ca", "TLSV1_ALERT_UNKNOWN_CA"),
    ("UNEXPECTED_EOF_WHILE_READING", None),
    ("", None),
])
def test_tls_alerts_are_told_from_silent_drops(text, alert):
    assert tls_alert_in(text) == alert


@pytest.mark.parametrize("exc, answer", [
    (ConnectionLost("erreur TLS de x : TLSV13_ALERT_CERTIFICATE_REQUIRED"), Answer.TLS_HANDSHAKE),
    (TlsFailure("échec de la négociation TLS : SSLV3_ALERT_HANDSHAKE_FAILURE"), Answer.TLS_HANDSHAKE),
    (ConnectionLost("x a fermé la connexion"), Answer.DROPPED),
    (TlsFailure("échec de la négociation TLS : UNEXPECTED_EOF_WHILE_READING"), Answer.DROPPED),
    (ProbeTimeout("x n'a rien répondu en 10 s"), Answer.TIMEOUT),
    (ConnectionFailed("connexion refusée par x"), Answer.UNREACHABLE),
    (CertificateNotTrusted("certificat non vérifié", verify_error="unknown ca"), Answer.UNVERIFIED),
])
def test_probe_errors(exc, answer):
    assert probe_error_answer(exc)[0] is answer


def _d(outcome, step, reply=None, detail="détail"):
    return MtaDelivery(outcome, step, reply, detail, None, True, (), (), ())


@pytest.mark.parametrize("delivery, answer, code", [
    (_d(MtaOutcome.DELIVERED, MtaStep.MESSAGE, MtaReply(250, "Ok")), Answer.ACCEPTED, "250"),
    (_d(MtaOutcome.REFUSED, MtaStep.MAIL, MtaReply(530, "5.7.0 Must issue a STARTTLS command first")), Answer.SMTP_5XX, "530"),
    (_d(MtaOutcome.REFUSED, MtaStep.RCPT, MtaReply(450, "4.7.1 greylisted")), Answer.SMTP_4XX, "450"),
    # measured on the reference Postfix MX (smtpd_tls_req_ccert = yes)
    (_d(MtaOutcome.REFUSED, MtaStep.EHLO_AFTER_TLS,
        MtaReply(421, "4.7.1 mx.operateur-reference.test Error: No client certificate presented")),
     Answer.SMTP_4XX_TLS_POLICY, "421 4.7.1"),
    (_d(MtaOutcome.REFUSED, MtaStep.EHLO_AFTER_TLS, MtaReply(421, "4.3.2 Service shutting down")),
     Answer.SMTP_4XX, "421"),
    (_d(MtaOutcome.REFUSED, MtaStep.GREETING, MtaReply(421, "4.7.1 go away")), Answer.SMTP_4XX, "421"),
    (_d(MtaOutcome.DROPPED, MtaStep.EHLO_AFTER_TLS), Answer.DROPPED, ""),
    (_d(MtaOutcome.TLS_FAILED, MtaStep.EHLO_AFTER_TLS,
        detail="le MX a interrompu la session TLS (étape ehlo_after_tls) : TLSV13_ALERT_CERTIFICATE_REQUIRED"),
     Answer.TLS_HANDSHAKE, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    (_d(MtaOutcome.TLS_FAILED, MtaStep.TLS_HANDSHAKE, detail="connexion coupée pendant la négociation TLS : x"),
     Answer.DROPPED, ""),
    (_d(MtaOutcome.TLS_FAILED, MtaStep.TLS_HANDSHAKE, detail="certificat du MX non vérifié : unable to get local issuer"),
     Answer.UNVERIFIED, ""),
    (_d(MtaOutcome.TIMEOUT, MtaStep.GREETING), Answer.TIMEOUT, ""),
    (_d(MtaOutcome.CONNECT_FAILED, MtaStep.CONNECT), Answer.UNREACHABLE, ""),
    (_d(MtaOutcome.PROTOCOL_ERROR, MtaStep.EHLO), Answer.VIOLATION, ""),
])
def test_mta_sessions(delivery, answer, code):
    assert delivery_answer(delivery) == (answer, code)


def test_every_rejection_check_of_the_catalog_says_what_a_refusal_is():
    catalog = load_catalog()
    expected = {f"LPS-IMAP-{n:02d}" for n in range(6, 15)} | {f"LPS-SMTP-{n:02d}" for n in (*range(5, 13), 15)} \
        | {"LPS-CERT-02", "LPS-CERT-03", "OPI-IN-03", "OPI-IN-04", "OPI-IN-05", "OPI-IN-06"} \
        | {"LPS-SMTP-13", "LPS-SMTP-14", "OPI-OUT-05", "LPS-IMAP-02", "LPS-SMTP-02"}
    assert {c.id for c in catalog.checks.values() if c.refusal} == expected
    assert all("(535)" not in c.title for c in catalog.checks.values())
    assert catalog.check("OPI-IN-04").refusal == ("smtp_5xx", "tls_handshake", "smtp_4xx_tls_policy")
    assert catalog.check("OPI-IN-03").refusal == ("smtp_5xx",)
