"""Interface opérateurs — outbound (the operator's MTA → the harness's MX sink): one test per
catalog check.

OPI-OUT-01…04 share one delivery (:class:`~.exchanges.Outbound`): the harness submits a
uniquely marked message through the API LPS (or, in manual mode, asks the operator to send
it) to a BAL of the harness domain, then waits at the sink. If nothing arrived, OPI-OUT-01
fails and OPI-OUT-02…04 are ``error``: there is nothing to inspect.
"""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.errors import ProbeError
from mssante_conformance.mail.refusal import Answer, probe_error_answer
from mssante_conformance.suites.operator_interface.exchanges import compose, new_marker
from mssante_conformance.suites.operator_interface.judgement import (
    client_certificate_verdict,
    message_verdict,
    tls_at_least_1_2,
)
from mssante_conformance.suites.support import envelope_answer, judged_refusal, refusal_kinds, said, smtp_session

OUTSIDE_RECIPIENT = "destinataire@hors-espace-de-confiance.example"


def _received(outbound, evidence):
    """The shared delivery, recorded in this check's evidence; ``error`` if nothing arrived."""
    delivery = outbound.delivery()
    evidence.fact("remise sortante (partagée par OPI-OUT-01…04)", delivery.to_evidence())
    if delivery.message is None:
        cause = delivery.refused or f"aucun message reçu par le puits en {delivery.waited_s:.0f} s"
        raise CheckNotCarriedOut(f"rien à examiner : {cause} (voir OPI-OUT-01)")
    return delivery


@pytest.mark.check("OPI-OUT-01")
def test_submitted_message_delivered_to_a_harness_bal(target, evidence, outbound):
    delivery = outbound.delivery()
    evidence.fact("remise sortante (partagée par OPI-OUT-01…04)", delivery.to_evidence())
    assert delivery.refused is None, (
        f"l'opérateur refuse d'acheminer un message de la BAL {target.bal} vers {delivery.recipient}, "
        f"BAL du domaine de l'espace de confiance {target.sink_domain} : {delivery.refused}"
    )
    if delivery.message is None:
        tried = [c for c in delivery.attempts if c.tls_error or not c.delivered]
        seen = (f" ; {len(tried)} session(s) sans remise vue(s) par le puits, ex. "
                f"{_session_summary(tried[-1])}" if tried else " ; aucune connexion au puits")
        pytest.fail(f"le message {delivery.marker} n'est pas arrivé au puits du harnais "
                    f"({delivery.recipient}) en {delivery.waited_s:.0f} s{seen}")


def _session_summary(conn) -> str:
    if conn.tls_error:
        return f"échec TLS : {conn.tls_error}"
    if not conn.starttls:
        return f"sans STARTTLS (commandes {' '.join(conn.commands) or 'aucune'})"
    return f"commandes {' '.join(conn.commands) or 'aucune'}"


@pytest.mark.check("OPI-OUT-02")
def test_delivery_used_starttls_with_tls_1_2(evidence, outbound):
    delivery = _received(outbound, evidence)
    tls = delivery.message.tls
    assert tls is not None, "le MTA de l'opérateur a remis le message sans STARTTLS"
    assert tls_at_least_1_2(tls.version), f"le MTA de l'opérateur a remis le message en {tls.version}"


@pytest.mark.check("OPI-OUT-03")
def test_mta_presented_an_igc_sante_client_certificate(evidence, outbound):
    delivery = _received(outbound, evidence)
    reason = client_certificate_verdict(delivery.message.tls)
    assert reason is None, reason


@pytest.mark.check("OPI-OUT-04")
def test_message_intact_with_message_id_date_and_from(target, evidence, outbound):
    delivery = _received(outbound, evidence)
    if delivery.sent is None:
        evidence.fact("intégrité", "mode manuel : le message a été composé par l'opérateur ; seuls "
                                   "Message-ID, Date, From et le marqueur sont examinés")
    reason = message_verdict(delivery.message.data, bal=target.bal, sent=delivery.sent, marker=delivery.marker)
    assert reason is None, reason


@pytest.mark.check("OPI-OUT-05")
def test_sending_outside_the_trust_space_refused(target, evidence, request):
    # What the harness can prove: the operator's answer to the submission. A message taken
    # for a domain outside the trust space (250 after DATA) is a non-conformity; whether it
    # would then leave cannot be observed, the domain not being the harness's.
    domain = OUTSIDE_RECIPIENT.rpartition("@")[2]
    if domain in {d.lower() for d in target.trusted_domains}:
        raise CheckNotCarriedOut(f"le domaine de test {domain} figure dans la liste blanche fournie")
    if not target.smtp:
        raise CheckNotCarriedOut("aucun point d'accès SMTP de l'API LPS pour soumettre le message")
    endpoint = target.smtp[0]

    def once():
        token = target.mint("valid")
        try:
            with smtp_session(target, evidence, endpoint, label="envoi hors de l'espace de confiance") as p:
                attempt = p.authenticate_xoauth2(target.bal, token.token)
                if not attempt.accepted:
                    raise CheckNotCarriedOut(f"{endpoint.url} : le jeton valide du titulaire est refusé ({said(attempt)})")
                mail = p.mail_from(target.bal)
                if not mail.positive:
                    raise CheckNotCarriedOut(f"{endpoint.url} : MAIL FROM de la BAL refusé ({mail.code} {mail.text})")
                answer, code, shown, _ = envelope_answer(p, (
                    ("RCPT TO", lambda: p.rcpt_to(OUTSIDE_RECIPIENT)),
                    ("DATA", lambda: p.data(compose(target.bal, OUTSIDE_RECIPIENT, "OPI-OUT-05", new_marker()))),
                ))
        except ProbeError as exc:
            return (*probe_error_answer(exc), str(exc))
        evidence.fact("envoi hors espace de confiance", {
            "destinataire": OUTSIDE_RECIPIENT, "refusé_à": None if answer is Answer.ACCEPTED else shown})
        return answer, code, shown

    judged_refusal(evidence, endpoint.url, refusal_kinds(request), once,
                   what=f"l'acheminement d'un message de la BAL {target.bal} vers {OUTSIDE_RECIPIENT}, "
                        "domaine hors de l'espace de confiance")
