"""API LPS — AUTH_CLI (certificate MIE): an ORG AUTH_CLI client certificate of IGC Santé opens
an organisational BAL over IMAP with SASL EXTERNAL; certificates outside IGC Santé or expired
do not. One test per catalog check."""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import NotApplicable
from mssante_conformance.mail.classify import AuthOutcome
from mssante_conformance.mail.errors import ConnectionLost, TlsFailure
from mssante_conformance.suites.support import imap_session, said

# SASL EXTERNAL with an empty authorization identity ("=" in IMAP SASL-IR): the server
# derives the identity from the certificate.
EMPTY_AUTHZID = "="


def _external(target, evidence, endpoint, client_cert, label):
    """Try EXTERNAL with ``client_cert``; returns (attempt or None, why it did not get there)."""
    try:
        with imap_session(target, evidence, endpoint, client_cert=client_cert, label=label) as p:
            attempt = p.authenticate_raw("EXTERNAL", EMPTY_AUTHZID)
            selected = p.select("INBOX") if attempt.accepted else None
            return attempt, selected, None
    except (TlsFailure, ConnectionLost) as exc:  # refused at the TLS layer: not authenticated
        return None, None, str(exc)


@pytest.mark.check("LPS-CERT-01")
def test_org_auth_cli_certificate_opens_its_bal(target, evidence):
    client = (str(target.client_cert), str(target.client_key))
    for endpoint in target.imap:
        attempt, selected, tls_refusal = _external(target, evidence, endpoint, client, "certificat ORG AUTH_CLI")
        assert tls_refusal is None, f"{endpoint.url} : certificat ORG AUTH_CLI refusé dès TLS ({tls_refusal})"
        evidence.fact(f"{endpoint.url} / EXTERNAL", attempt.to_dict())
        assert attempt.accepted, f"{endpoint.url} : certificat ORG AUTH_CLI refusé ({said(attempt)})"
        assert selected is not None and selected.ok, f"{endpoint.url} : SELECT INBOX refusé après AUTH_CLI"


def _refused(target, evidence, client, what):
    for endpoint in target.imap:
        attempt, _, tls_refusal = _external(target, evidence, endpoint, client, what)
        if tls_refusal is not None:
            evidence.fact(f"{endpoint.url} / {what}", f"refusé pendant la négociation TLS : {tls_refusal}")
            continue
        evidence.fact(f"{endpoint.url} / {what}", attempt.to_dict())
        assert not attempt.accepted, f"{endpoint.url} : {what} accepté ({said(attempt)})"
        assert attempt.outcome in (AuthOutcome.REJECTED, AuthOutcome.CONNECTION_CLOSED), (
            f"{endpoint.url} : réponse non conforme pour {what} ({said(attempt)})"
        )


@pytest.mark.check("LPS-CERT-02")
def test_client_certificate_from_another_ca_refused(target, evidence):
    _refused(target, evidence, target.foreign_client, "un certificat client d'une autre AC")


@pytest.mark.check("LPS-CERT-03")
def test_expired_client_certificate_refused(target, evidence):
    if target.expired_client is None:
        raise NotApplicable("certificat client expiré émis par l'AC de confiance de l'opérateur non "
                            "disponible (fourni par l'opérateur de référence seulement)")
    _refused(target, evidence, target.expired_client, "un certificat client expiré")
