"""Interface opérateurs — inbound (harness MTA → the operator's MX): one test per catalog check.

The harness plays a trust-space MTA (IGC Santé test certificate, whitelisted sender domain).
OPI-IN-02's delivery is also the control of the refusal checks: a refusal proves something
only if the MX accepts the same delivery from a trust-space MTA. What counts as a refusal is
the catalog's ``refusal`` field of each check (a 4xx, a drop or a timeout is ``error``).
"""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.mta import MtaStep
from mssante_conformance.mail.refusal import delivery_answer
from mssante_conformance.suites.operator_interface.exchanges import read_back
from mssante_conformance.suites.operator_interface.judgement import (
    bal_message_verdict,
    certificate_unverified,
    how_it_ended,
    legacy_tls_verdict,
    modern_tls_verdict,
    server_certificate_verdict,
)
from mssante_conformance.suites.support import judged_refusal, refusal_kinds

LEGACY_TLS = ("TLSv1", "TLSv1.1")
OUTSIDE_SENDER = "conformite.opi@hors-espace-de-confiance.example"
SENDER_STEPS = (MtaStep.MAIL, MtaStep.RCPT, MtaStep.DATA, MtaStep.MESSAGE)


@pytest.mark.check("OPI-IN-01")
def test_starttls_with_tls_1_2(target, evidence, inbound):
    # No recipient: the session stops after MAIL FROM, so this probe never delivers anything.
    d = inbound.send(evidence, "offre TLS par défaut du harnais (TLS 1.2 et 1.3)", rcpt_to=())
    reason = modern_tls_verdict(d)
    assert not reason, f"{target.mx.url} : {reason}"


@pytest.mark.check("OPI-IN-07")
def test_legacy_tls_versions_refused(target, evidence, inbound):
    failures = []
    for version in LEGACY_TLS:
        d = inbound.send(evidence, f"{version} imposé", rcpt_to=(), tls_version=version)
        if d.tls is None and d.step is MtaStep.TLS_HANDSHAKE and "NO_PROTOCOLS_AVAILABLE" in d.detail.upper():
            raise CheckNotCarriedOut(f"l'OpenSSL local ne sait pas proposer {version} : {d.detail}")
        reason = legacy_tls_verdict(version, d)
        if reason:
            failures.append(reason)
    assert not failures, f"{target.mx.url} : " + " ; ".join(failures)


@pytest.mark.check("OPI-IN-02")
def test_trust_space_mta_delivered_intact_to_the_bal(target, evidence, inbound):
    trial = inbound.trust_space_delivery(evidence)
    d = trial.delivery
    assert d.delivered, (
        f"{target.mx.url} : le MX refuse un MTA de l'espace de confiance (certificat IGC Santé de test, "
        f"domaine {inbound.domain}) : {how_it_ended(d)}"
    )
    received, found_at = read_back(target, evidence, trial.marker, trial.ended_at + target.delivery_timeout)
    evidence.fact("relecture IMAP", {
        "marqueur": trial.marker,
        "trouvé": received is not None,
        "délai_MX_IMAP_s": None if found_at is None else round(found_at - trial.ended_at, 3),
    })
    assert received is not None, (
        f"{target.mx.url} : message accepté par le MX ({d.reply}) mais absent de la BAL {target.bal} "
        f"après {target.delivery_timeout:g} s"
    )
    reason = bal_message_verdict(received, trial.message)
    assert reason is None, f"BAL {target.bal} : {reason}"


def _refused(target, evidence, inbound, request, label: str, what: str, **send):
    """One inbound session the MX must refuse with an answer the catalog counts as a refusal
    (a 4xx is retried once); returns the last session."""
    sessions = []

    def once():
        shown = label if not sessions else f"{label} (nouvel essai)"
        d = inbound.send(evidence, shown, **send)
        sessions.append(d)
        answer, code = delivery_answer(d)
        return answer, code, how_it_ended(d)

    judged_refusal(evidence, target.mx.url, refusal_kinds(request), once, what=what)
    return sessions[-1]


@pytest.mark.check("OPI-IN-03")
def test_mail_without_starttls_refused(target, evidence, inbound, request):
    inbound.require_control(evidence)
    _refused(target, evidence, inbound, request, "sans STARTTLS", "un message remis sans STARTTLS, en clair",
             starttls=False, client=None)


@pytest.mark.check("OPI-IN-04")
def test_mta_without_client_certificate_refused(target, evidence, inbound, request):
    inbound.require_control(evidence)
    _refused(target, evidence, inbound, request, "sans certificat client",
             "le message d'un MTA qui ne présente aucun certificat client", client=None)


@pytest.mark.check("OPI-IN-05")
def test_mta_with_certificate_of_another_ca_refused(target, evidence, inbound, request):
    inbound.require_control(evidence)
    _refused(target, evidence, inbound, request, "certificat client d'une autre AC",
             "le message d'un MTA dont le certificat vient d'une AC hors IGC Santé", client="foreign")


@pytest.mark.check("OPI-IN-06")
def test_sender_domain_outside_the_whitelist_refused(target, evidence, inbound, request):
    domain = OUTSIDE_SENDER.rpartition("@")[2]
    if domain in {d.lower() for d in target.trusted_domains}:
        raise CheckNotCarriedOut(f"le domaine de test {domain} figure dans la liste blanche fournie")
    inbound.sender_control(evidence)
    d = _refused(target, evidence, inbound, request, "domaine expéditeur hors liste blanche",
                 f"un expéditeur du domaine {domain}, hors de la liste blanche", mail_from=OUTSIDE_SENDER)
    if d.step not in SENDER_STEPS:
        raise CheckNotCarriedOut(
            f"{target.mx.url} : la session a pris fin avant l'examen de l'expéditeur ({how_it_ended(d)}) : "
            "le refus du domaine n'est pas établi")


@pytest.mark.check("OPI-IN-08")
def test_mx_server_certificate_chains_to_the_trust_anchors(target, evidence, inbound):
    # No recipient: the session stops after MAIL FROM, nothing is delivered (monitoring-safe).
    d = inbound.send(evidence, "certificat serveur du MX", rcpt_to=(), ca_file=target.trust_anchors.path)
    evidence.fact("ancres de confiance", target.trust_anchors.describe())
    if d.tls is None and not certificate_unverified(d):
        raise CheckNotCarriedOut(f"{target.mx.url} : aucune session TLS pour examiner le certificat du MX "
                                 f"({how_it_ended(d)} : {d.detail})")
    reason = server_certificate_verdict(d, target.mx.host)
    assert reason is None, f"{target.mx.url} : {reason}"
