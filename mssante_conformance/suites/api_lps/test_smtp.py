"""API LPS — SMTP submission (MSS 7.4): one test per catalog check."""

from __future__ import annotations

import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.errors import ProbeError, StartTlsRefused
from mssante_conformance.mail.refusal import auth_answer, probe_error_answer
from mssante_conformance.suites.support import (
    REFUSED_VARIANTS,
    TokenTrial,
    assert_no_mechanism_before_tls,
    assert_token_refused,
    assert_valid_accepted,
    bouchon_calls_since,
    envelope_answer,
    judged_refusal,
    refusal_kinds,
    rejection_params,
    said,
    smtp_session,
    starttls_endpoints,
    trust_hint,
)

OUTSIDE_DOMAIN = "hors-espace-de-confiance.example"


@pytest.fixture
def trial(target, evidence):
    return TokenTrial(target, evidence)


def test_message(sender: str, recipient: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content("Message de test du harnais de conformité MSSanté (Ref#1 v1.5).\n")
    return bytes(msg)


test_message.__test__ = False  # a helper, not a test


@pytest.mark.check("LPS-SMTP-01")
def test_tls_offered_with_a_valid_certificate(target, evidence):
    for endpoint in target.smtp:
        try:
            with smtp_session(target, evidence, endpoint) as p:
                info = p.tls_info
        except StartTlsRefused as exc:
            pytest.fail(f"{endpoint.url} : STARTTLS refusé ({exc.answer or exc})")
        evidence.fact(f"{endpoint.url} / TLS", info.to_dict() if info else None)
        assert info is not None, f"{endpoint.url} : aucune session TLS établie"
        assert info.verified, (
            f"{endpoint.url} : certificat serveur non valide pour {endpoint.host} ({info.verify_error})"
        )


@pytest.mark.check("LPS-SMTP-02")
def test_no_auth_before_tls(target, evidence, request):
    kinds = refusal_kinds(request)
    for endpoint in starttls_endpoints(target.smtp, "smtp"):
        offered: set[str] = set()

        def once(mechanism: str):
            token = target.mint("valid").token if mechanism == "XOAUTH2" else None
            try:
                with smtp_session(target, evidence, endpoint, tls=False, label=f"{mechanism} avant STARTTLS") as p:
                    offered.update(p.features.auth_mechanisms)
                    evidence.fact(f"{endpoint.url} / EHLO avant TLS", p.features.to_dict())
                    attempt = (p.authenticate_xoauth2(target.bal, token) if token
                               else p.authenticate_plain(target.bal or "test@example.test", "mot-de-passe-de-test"))
            except ProbeError as exc:
                return (*probe_error_answer(exc), str(exc))
            return (*auth_answer(attempt), said(attempt))

        judged_refusal(evidence, f"{endpoint.url} AUTH PLAIN", kinds, lambda: once("PLAIN"),
                       what="AUTH PLAIN avant TLS")
        assert_no_mechanism_before_tls(endpoint.url, offered, target.profile)
        if target.bal and target.idnat:
            judged_refusal(evidence, f"{endpoint.url} AUTH XOAUTH2", kinds, lambda: once("XOAUTH2"),
                           what="AUTH XOAUTH2 avant TLS")


def _assert_xoauth2_advertised(target, evidence, endpoint) -> None:
    with smtp_session(target, evidence, endpoint) as p:
        features = p.features
    evidence.fact(f"{endpoint.url} / EHLO après TLS", features.to_dict())
    assert "XOAUTH2" in features.auth_mechanisms, (
        f"{endpoint.url} : AUTH XOAUTH2 n'est pas annoncé après TLS "
        f"(AUTH {' '.join(sorted(features.auth_mechanisms)) or 'absent'})"
    )


@pytest.mark.check("LPS-SMTP-03")
def test_xoauth2_advertised_after_tls_and_initial_response_accepted(target, evidence, trial):
    for endpoint in target.smtp:
        _assert_xoauth2_advertised(target, evidence, endpoint)
        assert_valid_accepted(trial, "smtp", endpoint)


@pytest.mark.check("LPS-SMTP-16")
def test_xoauth2_advertised_after_tls(target, evidence):
    for endpoint in target.smtp:
        _assert_xoauth2_advertised(target, evidence, endpoint)


@pytest.mark.check("LPS-SMTP-04")
def test_valid_token_and_message_from_the_bal_accepted(target, evidence):
    for endpoint in target.smtp:
        token = target.mint("valid")
        since = time.time()
        with smtp_session(target, evidence, endpoint, label="jeton valide, envoi depuis la BAL") as p:
            attempt = p.authenticate_xoauth2(target.bal, token.token)
            calls = bouchon_calls_since(target, since)
            evidence.fact(f"{endpoint.url} / appels au bouchon", calls)
            assert attempt.accepted, (
                f"{endpoint.url} : le jeton PSC valide du titulaire est refusé ({said(attempt)})"
                + trust_hint(target, calls)
            )
            mail = p.mail_from(target.bal)
            assert mail.positive, f"{endpoint.url} : MAIL FROM de la BAL authentifiée refusé ({mail.code} {mail.text})"
            rcpt = p.rcpt_to(target.bal)
            assert rcpt.positive, f"{endpoint.url} : RCPT TO vers la BAL refusé ({rcpt.code} {rcpt.text})"
            marker = uuid.uuid4().hex
            data = p.data(test_message(target.bal, target.bal, f"[conformite LPS-SMTP-04] {marker}"))
            assert data.code == 250, f"{endpoint.url} : message refusé après DATA ({data.code} {data.text})"


@pytest.mark.parametrize("variant", rejection_params({
    "LPS-SMTP-05": "expired",
    "LPS-SMTP-06": "not_yet_valid",
    "LPS-SMTP-07": "foreign_issuer",
    "LPS-SMTP-08": "forged_signature",
    "LPS-SMTP-09": "unsigned",
    "LPS-SMTP-10": "hs256_public_key",
    "LPS-SMTP-11": "tampered_payload",
    "LPS-SMTP-15": "revoked",
}))
@pytest.mark.token_trial("smtp")
def test_token_rejected(trial, variant, request):
    assert_token_refused(trial, "smtp", variant, what=REFUSED_VARIANTS[variant],
                         kinds=refusal_kinds(request))


@pytest.mark.check("LPS-SMTP-12")
@pytest.mark.token_trial("smtp", other_professional=True)
def test_token_of_another_professional_rejected(trial, target, request):
    assert_token_refused(trial, "smtp", "valid", idnat=target.other_idnat,
                         what=f"le jeton valide d'un non-titulaire (IDNAT {target.other_idnat})",
                         kinds=refusal_kinds(request))


def _other_bal(target) -> str:
    """An address of the operator's domain that is not the authenticated BAL."""
    local, _, domain = target.bal.rpartition("@")
    return f"autre.bal.{uuid.uuid4().hex[:6]}@{domain}"


@pytest.mark.check("LPS-SMTP-13")
def test_mail_from_another_bal_refused(target, evidence, trial, request):
    for endpoint in target.smtp:
        other = _other_bal(target)

        def once():
            token = target.mint("valid")
            try:
                with smtp_session(target, evidence, endpoint, label="MAIL FROM d'une autre BAL") as p:
                    attempt = p.authenticate_xoauth2(target.bal, token.token)
                    if not attempt.accepted:
                        raise CheckNotCarriedOut(f"{endpoint.url} : le jeton valide du titulaire est refusé "
                                                 f"({said(attempt)}), MAIL FROM ne peut pas être éprouvé")
                    answer, code, shown, step = envelope_answer(p, (
                        ("MAIL FROM", lambda: p.mail_from(other)),
                        ("RCPT TO", lambda: p.rcpt_to(target.bal)),
                        ("DATA", lambda: p.data(test_message(other, target.bal, "[conformite LPS-SMTP-13] usurpation"))),
                    ))
            except ProbeError as exc:
                return (*probe_error_answer(exc), str(exc))
            evidence.fact(f"{endpoint.url} / expéditeur usurpé", {"mail_from": other, "refusé_à": step})
            return answer, code, shown

        judged_refusal(evidence, endpoint.url, refusal_kinds(request), once,
                       what=f"un message avec MAIL FROM:<{other}> (autre BAL que la BAL authentifiée {target.bal})")


@pytest.mark.check("LPS-SMTP-14")
def test_no_relay_without_authentication(target, evidence, request):
    sender = f"expediteur@{OUTSIDE_DOMAIN}"
    recipient = f"destinataire@autre-{OUTSIDE_DOMAIN}"
    for endpoint in target.smtp:

        def once():
            try:
                with smtp_session(target, evidence, endpoint, label="relais sans authentification") as p:
                    answer, code, shown, _ = envelope_answer(p, (
                        ("MAIL FROM", lambda: p.mail_from(sender)),
                        ("RCPT TO", lambda: p.rcpt_to(recipient)),
                        ("DATA", lambda: p.data(test_message(sender, recipient, "[conformite LPS-SMTP-14] relais"))),
                    ))
            except ProbeError as exc:
                return (*probe_error_answer(exc), str(exc))
            return answer, code, shown

        judged_refusal(evidence, endpoint.url, refusal_kinds(request), once,
                       what=f"le relais sans authentification vers {recipient}")
