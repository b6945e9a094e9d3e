"""API LPS — IMAP (MSS 7.2): one test per catalog check; titles and severities in the catalog."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.mail.classify import AuthOutcome
from mssante_conformance.mail.errors import ProbeError, StartTlsRefused
from mssante_conformance.mail.refusal import auth_answer, imap_answer, probe_error_answer
from mssante_conformance.suites.support import (
    REFUSED_VARIANTS,
    TokenTrial,
    assert_no_mechanism_before_tls,
    assert_token_refused,
    bouchon_calls_since,
    assert_valid_accepted,
    imap_session,
    judged_refusal,
    refusal_kinds,
    rejection_params,
    said,
    starttls_endpoints,
    trust_hint,
)


@pytest.fixture
def trial(target, evidence):
    return TokenTrial(target, evidence)


@pytest.mark.check("LPS-IMAP-01")
def test_tls_offered_with_a_valid_certificate(target, evidence):
    for endpoint in target.imap:
        try:
            with imap_session(target, evidence, endpoint) as p:
                info = p.tls_info
        except StartTlsRefused as exc:
            pytest.fail(f"{endpoint.url} : STARTTLS refusé ({exc.answer or exc})")
        evidence.fact(f"{endpoint.url} / TLS", info.to_dict())
        assert info is not None, f"{endpoint.url} : aucune session TLS établie"
        assert info.verified, (
            f"{endpoint.url} : certificat serveur non valide pour {endpoint.host} ({info.verify_error})"
        )


@pytest.mark.check("LPS-IMAP-02")
def test_no_authentication_before_tls(target, evidence, trial, request):
    kinds = refusal_kinds(request)
    for endpoint in starttls_endpoints(target.imap, "imap"):
        offered: set[str] = set()

        def login_once():
            try:
                with imap_session(target, evidence, endpoint, tls=False, label="LOGIN avant STARTTLS") as p:
                    caps = p.capabilities()
                    offered.update(c for c in caps if c.upper().startswith("AUTH="))
                    evidence.fact(f"{endpoint.url} / capacités avant TLS", sorted(caps))
                    login = p.login_plaintext(target.bal or "test@example.test", "mot-de-passe-de-test")
            except ProbeError as exc:
                return (*probe_error_answer(exc), str(exc))
            return imap_answer(login.status, login.code), login.status, f"« {login.status} {login.text} »"

        judged_refusal(evidence, f"{endpoint.url} LOGIN", kinds, login_once, what="LOGIN avant TLS")
        assert_no_mechanism_before_tls(endpoint.url, offered, target.profile)
        if not (target.bal and target.idnat):
            continue

        def xoauth2_once():
            token = target.mint("valid").token
            try:
                with imap_session(target, evidence, endpoint, tls=False, label="XOAUTH2 avant STARTTLS") as p:
                    attempt = p.authenticate_xoauth2(target.bal, token)
            except ProbeError as exc:
                return (*probe_error_answer(exc), str(exc))
            return (*auth_answer(attempt), said(attempt))

        judged_refusal(evidence, f"{endpoint.url} XOAUTH2", kinds, xoauth2_once, what="AUTHENTICATE XOAUTH2 avant TLS")


@pytest.mark.check("LPS-IMAP-03")
def test_xoauth2_advertised_after_tls(target, evidence):
    for endpoint in target.imap:
        with imap_session(target, evidence, endpoint) as p:
            caps = p.capabilities()
        evidence.fact(f"{endpoint.url} / capacités après TLS", sorted(caps))
        assert "AUTH=XOAUTH2" in caps, f"{endpoint.url} : AUTH=XOAUTH2 n'est pas annoncé après TLS"


def _assert_sasl_ir_advertised(target, evidence, endpoint) -> None:
    with imap_session(target, evidence, endpoint) as p:
        caps = p.capabilities()
    evidence.fact(f"{endpoint.url} / capacités après TLS", sorted(caps))
    assert "SASL-IR" in caps, f"{endpoint.url} : SASL-IR n'est pas annoncé après TLS"


@pytest.mark.check("LPS-IMAP-04")
def test_sasl_ir_advertised_and_initial_response_accepted(target, evidence, trial):
    for endpoint in target.imap:
        _assert_sasl_ir_advertised(target, evidence, endpoint)
        assert_valid_accepted(trial, "imap", endpoint)


@pytest.mark.check("LPS-IMAP-17")
def test_sasl_ir_advertised_after_tls(target, evidence):
    for endpoint in target.imap:
        _assert_sasl_ir_advertised(target, evidence, endpoint)


@pytest.mark.check("LPS-IMAP-05")
def test_valid_token_of_the_holder_opens_the_bal(target, evidence, trial):
    for endpoint in target.imap:
        token = target.mint("valid")
        since = time.time()
        with imap_session(target, evidence, endpoint, label="jeton valide, SELECT INBOX") as p:
            attempt = p.authenticate_xoauth2(target.bal, token.token)
            calls = bouchon_calls_since(target, since)
            evidence.fact(f"{endpoint.url} / appels au bouchon", calls)
            assert attempt.accepted, (
                f"{endpoint.url} : le jeton PSC valide du titulaire est refusé ({said(attempt)})"
                + trust_hint(target, calls)
            )
            selected = p.select("INBOX")
        assert selected.ok, f"{endpoint.url} : SELECT INBOX refusé (« {selected.status} {selected.text} »)"


@pytest.mark.parametrize("variant", rejection_params({
    "LPS-IMAP-06": "expired",
    "LPS-IMAP-07": "not_yet_valid",
    "LPS-IMAP-08": "foreign_issuer",
    "LPS-IMAP-09": "forged_signature",
    "LPS-IMAP-10": "unsigned",
    "LPS-IMAP-11": "hs256_public_key",
    "LPS-IMAP-12": "tampered_payload",
    "LPS-IMAP-14": "revoked",
}))
@pytest.mark.token_trial("imap")
def test_token_rejected(trial, variant, request):
    assert_token_refused(trial, "imap", variant, what=REFUSED_VARIANTS[variant],
                         kinds=refusal_kinds(request))


@pytest.mark.check("LPS-IMAP-13")
@pytest.mark.token_trial("imap", other_professional=True)
def test_token_of_another_professional_rejected(trial, target, request):
    assert_token_refused(trial, "imap", "valid", idnat=target.other_idnat,
                         what=f"le jeton valide d'un non-titulaire (IDNAT {target.other_idnat})",
                         kinds=refusal_kinds(request))


@pytest.mark.check("LPS-IMAP-15")
def test_failure_exchange_and_session_still_usable(target, evidence):
    for endpoint in target.imap:
        # A forged token for the BAL triggers the failure exchange. If the operator accepts it
        # (LPS-IMAP-09 says so), an address outside its directory triggers it instead: this
        # check is about the shape of the exchange, not about which token is refused.
        token = target.mint("forged_signature")
        for user in (target.bal, f"bal.inexistante.{uuid.uuid4().hex[:8]}@{target.bal.rpartition('@')[2]}"):
            with imap_session(target, evidence, endpoint, label=f"échange d'échec XOAUTH2 ({user})") as p:
                attempt = p.authenticate_xoauth2(user, token.token)
                if attempt.accepted:
                    evidence.fact(f"{endpoint.url} / jeton falsifié accepté pour {user}", attempt.to_dict())
                    continue
                evidence.fact(f"{endpoint.url} / échange d'échec", attempt.to_dict())
                assert attempt.challenge is not None, (
                    f"{endpoint.url} : pas de défi d'erreur XOAUTH2 avant le refus ({said(attempt)})"
                )
                assert attempt.challenge.json_valid, (
                    f"{endpoint.url} : le défi d'erreur XOAUTH2 n'est pas du JSON en base64"
                )
                assert attempt.followed_failure_convention, (
                    f"{endpoint.url} : après la réponse vide au défi, NO étiqueté attendu ({said(attempt)})"
                )
                noop = p.noop()
                assert noop.ok, (
                    f"{endpoint.url} : session inutilisable après l'échec (NOOP : « {noop.status} {noop.text} »)"
                )
                break
        else:
            raise CheckNotCarriedOut(f"{endpoint.url} : aucune authentification refusée, l'échange d'échec "
                                     "n'a pas pu être provoqué")


# name → (payload, the server may close the connection instead of answering NO/BAD).
# A server protecting itself from an oversized line by hanging up is neither a crash nor a hang
# (Dovecot's login process does exactly that beyond its input buffer); a syntactically
# malformed payload of ordinary size must get a tagged NO or BAD.
MALFORMED_PAYLOADS = {
    "pas du base64": ("!!!pas-du-base64!!!", False),
    "base64 sans séparateurs": (base64.b64encode(b"user=a@b auth=Bearer x").decode(), False),
    "sans auth": (base64.b64encode(b"user=a@b.test\x01\x01").decode(), False),
    "Bearer vide": (base64.b64encode(b"user=a@b.test\x01auth=Bearer \x01\x01").decode(), False),
    "octets binaires": (base64.b64encode(bytes(range(256))).decode(), False),
    "charge de 12 Kio": (base64.b64encode(b"user=a@b.test\x01auth=Bearer " + b"A" * 12288 + b"\x01\x01").decode(), True),
}


@pytest.mark.check("LPS-IMAP-16")
def test_malformed_payloads_answered_without_crash(target, evidence):
    for endpoint in target.imap:
        for name, (payload, may_close) in MALFORMED_PAYLOADS.items():
            with imap_session(target, evidence, endpoint, label=f"charge malformée : {name}") as p:
                attempt = p.authenticate_raw("XOAUTH2", payload)
            evidence.fact(f"{endpoint.url} / {name}", attempt.to_dict())
            assert attempt.outcome is not AuthOutcome.NO_RESPONSE, (
                f"{endpoint.url} : aucune réponse à une charge XOAUTH2 malformée ({name}) : blocage"
            )
            assert not attempt.accepted, f"{endpoint.url} : charge XOAUTH2 malformée ({name}) acceptée"
            answered = attempt.outcome is AuthOutcome.REJECTED and attempt.status in ("NO", "BAD", "BYE")
            closed = attempt.outcome is AuthOutcome.CONNECTION_CLOSED
            assert answered or (may_close and closed), (
                f"{endpoint.url} : charge malformée ({name}) : NO ou BAD attendu ({said(attempt)})"
            )
        with imap_session(target, evidence, endpoint, label="le serveur répond encore") as p:
            assert p.noop().ok, f"{endpoint.url} : le serveur ne répond plus après les charges malformées"
