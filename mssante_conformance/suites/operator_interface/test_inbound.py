"""Interface opérateurs — inbound (harness MTA → the operator's MX): one test per catalog check.

The harness plays a trust-space MTA (IGC Santé test certificate, whitelisted sender domain).
OPI-IN-02's delivery is also the control of the refusal checks: a refusal proves something
only if the MX accepts the same delivery from a trust-space MTA.
"""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.mta import MtaOutcome, MtaStep
from mssante_conformance.suites.operator_interface.exchanges import read_back
from mssante_conformance.suites.operator_interface.judgement import (
    bal_message_verdict,
    how_it_ended,
    legacy_tls_verdict,
    modern_tls_verdict,
    refused_verdict,
)

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


@pytest.mark.check("OPI-IN-03")
def test_mail_without_starttls_refused(target, evidence, inbound):
    inbound.require_control(evidence)
    d = inbound.send(evidence, "sans STARTTLS", starttls=False, client=None)
    reason = refused_verdict(d, "un message remis sans STARTTLS, en clair")
    assert reason is None, f"{target.mx.url} : {reason}"


@pytest.mark.check("OPI-IN-04")
def test_mta_without_client_certificate_refused(target, evidence, inbound):
    inbound.require_control(evidence)
    d = inbound.send(evidence, "sans certificat client", client=None)
    reason = refused_verdict(d, "le message d'un MTA qui ne présente aucun certificat client")
    assert reason is None, f"{target.mx.url} : {reason}"


@pytest.mark.check("OPI-IN-05")
def test_mta_with_certificate_of_another_ca_refused(target, evidence, inbound):
    inbound.require_control(evidence)
    d = inbound.send(evidence, "certificat client d'une autre AC", client="foreign")
    reason = refused_verdict(d, "le message d'un MTA dont le certificat vient d'une AC hors IGC Santé")
    assert reason is None, f"{target.mx.url} : {reason}"


@pytest.mark.check("OPI-IN-06")
def test_sender_domain_outside_the_whitelist_refused(target, evidence, inbound):
    domain = OUTSIDE_SENDER.rpartition("@")[2]
    if domain in {d.lower() for d in target.trusted_domains}:
        raise CheckNotCarriedOut(f"le domaine de test {domain} figure dans la liste blanche fournie")
    inbound.require_control(evidence)
    d = inbound.send(evidence, "domaine expéditeur hors liste blanche", mail_from=OUTSIDE_SENDER)
    reason = refused_verdict(d, f"un expéditeur du domaine {domain}, hors de la liste blanche")
    assert reason is None, f"{target.mx.url} : {reason}"
    if d.step not in SENDER_STEPS or d.outcome is not MtaOutcome.REFUSED:
        raise CheckNotCarriedOut(
            f"{target.mx.url} : la session a pris fin avant l'examen de l'expéditeur ({how_it_ended(d)}) : "
            "le refus du domaine n'est pas établi")
