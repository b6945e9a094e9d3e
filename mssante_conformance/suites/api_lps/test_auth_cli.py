"""API LPS — AUTH_CLI (certificate MIE): an ORG AUTH_CLI client certificate of IGC Santé opens
an organisational BAL over IMAP with SASL EXTERNAL; certificates outside IGC Santé or expired
do not. One test per catalog check. LPS-CERT-02/03 count a refusal only after the valid
certificate opened the BAL on the same endpoint (positive control)."""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.errors import ConnectionLost, ProbeError, ProbeTimeout, TlsFailure
from mssante_conformance.mail.refusal import auth_answer, probe_error_answer
from mssante_conformance.suites.support import imap_session, judged_refusal, refusal_kinds, said

# SASL EXTERNAL with an empty authorization identity ("=" in IMAP SASL-IR): the server
# derives the identity from the certificate.
EMPTY_AUTHZID = "="


def _external(target, evidence, endpoint, client_cert, label, *, raw: bool = False):
    """Try EXTERNAL with ``client_cert``; returns (attempt, SELECT result, None), or
    (None, None, why it did not get there) — the exception itself when ``raw``."""
    try:
        with imap_session(target, evidence, endpoint, client_cert=client_cert, label=label) as p:
            attempt = p.authenticate_raw("EXTERNAL", EMPTY_AUTHZID)
            selected = p.select("INBOX") if attempt.accepted else None
            return attempt, selected, None
    except (TlsFailure, ConnectionLost, ProbeTimeout) as exc:  # refused or cut before an answer
        return None, None, exc if raw else str(exc)


@pytest.mark.check("LPS-CERT-01")
def test_org_auth_cli_certificate_opens_its_bal(target, evidence):
    client = (str(target.client_cert), str(target.client_key))
    for endpoint in target.imap:
        attempt, selected, tls_refusal = _external(target, evidence, endpoint, client, "certificat ORG AUTH_CLI")
        assert tls_refusal is None, f"{endpoint.url} : certificat ORG AUTH_CLI refusé dès TLS ({tls_refusal})"
        evidence.fact(f"{endpoint.url} / EXTERNAL", attempt.to_dict())
        assert attempt.accepted, f"{endpoint.url} : certificat ORG AUTH_CLI refusé ({said(attempt)})"
        assert selected is not None and selected.ok, f"{endpoint.url} : SELECT INBOX refusé après AUTH_CLI"


def _control(target, evidence, endpoint) -> None:
    """Positive control of LPS-CERT-02/03: the valid ORG AUTH_CLI certificate (LPS-CERT-01's)
    opens the BAL on the same endpoint; else a refusal would prove nothing (an operator with no
    SASL EXTERNAL at all refuses every certificate)."""
    client = (str(target.client_cert), str(target.client_key))
    attempt, selected, tls_refusal = _external(target, evidence, endpoint, client,
                                               "témoin : certificat ORG AUTH_CLI valide")
    evidence.fact(f"{endpoint.url} / témoin", tls_refusal or attempt.to_dict())
    if tls_refusal is not None or not attempt.accepted or selected is None or not selected.ok:
        shown = tls_refusal or (said(attempt) if not attempt.accepted else "SELECT INBOX refusé")
        raise CheckNotCarriedOut(f"{endpoint.url} : témoin en échec, le certificat ORG AUTH_CLI valide "
                                 f"n'ouvre pas la BAL ({shown}) — un refus ne prouverait rien (voir LPS-CERT-01)")


def _refused(target, evidence, client, what, kinds):
    for endpoint in target.imap:
        _control(target, evidence, endpoint)

        def once():
            attempt, _, tls_refusal = _external(target, evidence, endpoint, client, what, raw=True)
            if isinstance(tls_refusal, ProbeError):
                answer, code = probe_error_answer(tls_refusal)
                return answer, code, str(tls_refusal)
            evidence.fact(f"{endpoint.url} / {what}", attempt.to_dict())
            answer, code = auth_answer(attempt)
            return answer, code, said(attempt)

        judged_refusal(evidence, endpoint.url, kinds, once, what=what)


@pytest.mark.check("LPS-CERT-02")
def test_client_certificate_from_another_ca_refused(target, evidence, request):
    _refused(target, evidence, target.foreign_client, "un certificat client d'une autre AC",
             refusal_kinds(request))


@pytest.mark.check("LPS-CERT-03")
def test_expired_client_certificate_refused(target, evidence, request):
    _refused(target, evidence, target.expired_client, "un certificat client expiré", refusal_kinds(request))
