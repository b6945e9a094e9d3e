"""What the checks share: opening sessions with evidence, minting, the valid-token control,
and the bouchon's view of how the operator validated a token.

A check reads as "send this, classify that, assert on what the server answered"; the
sentences it asserts with are the report's one-line reasons, in French.
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from mssante_conformance.conformance import CheckNotCarriedOut, Evidence, NotApplicable
from mssante_conformance.mail.classify import AuthAttempt, AuthOutcome
from mssante_conformance.mail.imap import ImapProbe
from mssante_conformance.mail.smtp import SmtpProbe
from mssante_conformance.target import Target


# ------------------------------------------------------------------------------ sessions
@contextlib.contextmanager
def imap_session(target: Target, evidence: Evidence, endpoint, *, tls: bool = True,
                 client_cert: tuple[str, str] | None = None, label: str = "") -> Iterator[ImapProbe]:
    """An IMAP session on ``endpoint``, TLS established unless ``tls=False`` (STARTTLS
    endpoints only). Certificate problems are recorded, not fatal: LPS-IMAP-01 judges them."""
    transcript = evidence.transcript(f"IMAP {endpoint.url}" + (f" — {label}" if label else ""))
    probe = ImapProbe(endpoint, transcript, ca_file=_str(target.ca_file), timeout=target.network_timeout,
                      allow_unverified=True, client_cert=client_cert)
    with probe:
        probe.connect()
        if tls and not endpoint.implicit_tls:
            probe.starttls()
        yield probe
        probe.logout()


@contextlib.contextmanager
def smtp_session(target: Target, evidence: Evidence, endpoint, *, tls: bool = True,
                 label: str = "") -> Iterator[SmtpProbe]:
    """An SMTP submission session on ``endpoint``, EHLO done, TLS established unless
    ``tls=False``; the probe's ``features`` attribute holds the last EHLO answer."""
    transcript = evidence.transcript(f"SMTP {endpoint.url}" + (f" — {label}" if label else ""))
    probe = SmtpProbe(endpoint, transcript, ca_file=_str(target.ca_file), timeout=target.network_timeout,
                      allow_unverified=True)
    with probe:
        probe.connect()
        probe.features = probe.ehlo()
        if tls and not endpoint.implicit_tls:
            probe.starttls()
            probe.features = probe.ehlo()
        yield probe
        probe.quit()


def _str(path) -> str | None:
    return str(path) if path else None


def starttls_endpoints(endpoints: list, protocol: str):
    """The STARTTLS endpoints among ``endpoints``; not applicable when there is none."""
    plain = [e for e in endpoints if not e.implicit_tls]
    if not plain:
        raise NotApplicable(
            f"aucun point d'accès {protocol.upper()} en STARTTLS fourni ({protocol}://) : "
            "aucun échange en clair n'est exposé sur les adresses données"
        )
    return plain


# ------------------------------------------------------------------------------ wording
def said(attempt: AuthAttempt) -> str:
    """What the server answered to an authentication, in a few words."""
    if attempt.outcome is AuthOutcome.NO_RESPONSE:
        return "aucune réponse dans le délai"
    if attempt.outcome is AuthOutcome.CONNECTION_CLOSED:
        return "connexion fermée sans réponse"
    code = f" [{attempt.code}]" if attempt.code and attempt.status not in ("535",) else ""
    return f"« {attempt.status}{code} {attempt.text} »".replace("  ", " ").strip()


# ------------------------------------------------------------------------------ bouchon view
def bouchon_calls_since(target: Target, since: float) -> list[dict]:
    """The relying-party calls the bouchon recorded since ``since`` (epoch seconds), JSON-ready;
    empty when the bouchon cannot tell (e.g. a remote bouchon that is unreachable)."""
    try:
        calls = target.bouchon.calls(since=since)
    except Exception:  # the call log is evidence, not a condition of the check
        return []
    out = []
    for call in calls:
        data = call.to_dict() if hasattr(call, "to_dict") else dict(vars(call))
        out.append(data)
    return out


def trust_hint(target: Target, calls: list[dict]) -> str:
    """The sentence added when a valid token is refused: is the operator pointed at us?"""
    issuer = getattr(target.bouchon, "issuer", "?")
    if not calls:
        return (f" ; le bouchon n'a reçu aucun appel de l'opérateur (introspection, JWKS) : "
                f"l'opérateur est-il configuré pour faire confiance au bouchon (émetteur {issuer}) "
                "plutôt qu'au vrai PSC ?")
    return f" ; l'opérateur a interrogé le bouchon ({len(calls)} appel(s), voir les preuves)"


# ------------------------------------------------------------------------------ token checks
# The tokens a rejection check presents, and how its reason names them.
REFUSED_VARIANTS = {
    "expired": "un jeton PSC expiré",
    "not_yet_valid": "un jeton pas encore valide",
    "foreign_issuer": "un jeton d'un autre émetteur que PSC",
    "forged_signature": "un jeton à la signature falsifiée",
    "unsigned": "un jeton non signé (alg: none)",
    "hs256_public_key": "un jeton HS256 signé avec la clé publique PSC",
    "tampered_payload": "un jeton au contenu altéré",
    "revoked": "un jeton révoqué",
}


def rejection_params(check_ids: dict[str, str]) -> list:
    """``pytest.param``s of a rejection test, one per check: ``{check id: variant}``."""
    import pytest

    return [pytest.param(variant, marks=pytest.mark.check(check_id), id=check_id)
            for check_id, variant in check_ids.items()]
class TokenTrial:
    """Authenticate with a token of a given variant on every endpoint of a protocol and
    record, per endpoint, what the server answered and what the bouchon saw."""

    def __init__(self, target: Target, evidence: Evidence) -> None:
        self.target = target
        self.evidence = evidence

    def attempt(self, protocol: str, endpoint, variant: str, *, idnat: str | None = None,
                label: str = "") -> AuthAttempt:
        """XOAUTH2 with a fresh token of ``variant`` on ``endpoint`` (``imap`` or ``smtp``)."""
        minted = self.target.mint(variant, idnat=idnat)
        since = time.time()
        session = imap_session if protocol == "imap" else smtp_session
        with session(self.target, self.evidence, endpoint, label=label or f"jeton {variant}") as p:
            if protocol == "imap":
                attempt = p.authenticate_xoauth2(self.target.bal, minted.token)
            else:
                attempt = p.auth_xoauth2(self.target.bal, minted.token)
        self._record(endpoint, variant, minted, attempt, since)
        return attempt

    def _record(self, endpoint, variant, minted, attempt: AuthAttempt, since: float) -> None:
        time.sleep(0.05)  # let the bouchon's call log settle
        calls = bouchon_calls_since(self.target, since)
        self.last_calls = calls
        self.evidence.fact(f"{endpoint.url} / {variant}", {
            "jeton": minted.fingerprint,
            "variante": variant,
            "authentification": attempt.to_dict(),
            "appels_au_bouchon": calls,
        })


def assert_valid_accepted(trial: TokenTrial, protocol: str, endpoint) -> AuthAttempt:
    """A valid token of the BAL holder must open the session."""
    attempt = trial.attempt(protocol, endpoint, "valid", label="jeton valide du titulaire")
    assert attempt.accepted, (
        f"{endpoint.url} : le jeton PSC valide du titulaire est refusé ({said(attempt)})"
        + trust_hint(trial.target, trial.last_calls)
    )
    return attempt


def control_valid_token(trial: TokenTrial, protocol: str, endpoint, settings) -> None:
    """Positive control before a rejection check: a refusal proves something only if a valid
    token is accepted on the same endpoint. Skipped in the monitoring profile (the operator
    does not trust the bouchon there), which the evidence says."""
    if settings.profile == "monitoring" or not trial.target.bal or not trial.target.idnat:
        trial.evidence.fact("témoin", "sans témoin (profil monitoring) : le refus n'est pas comparé "
                                       "à l'acceptation d'un jeton valide")
        return
    attempt = trial.attempt(protocol, endpoint, "valid", label="témoin : jeton valide")
    if not attempt.accepted:
        raise CheckNotCarriedOut(
            f"{endpoint.url} : témoin en échec, un jeton valide est refusé ({said(attempt)}) — "
            "un refus ne prouverait rien" + trust_hint(trial.target, trial.last_calls)
        )


def assert_token_refused(trial: TokenTrial, protocol: str, variant: str, settings, *,
                         idnat: str | None = None, what: str) -> None:
    """Every endpoint of ``protocol`` refuses a token of ``variant`` (after the control)."""
    endpoints = trial.target.imap if protocol == "imap" else trial.target.smtp
    for endpoint in endpoints:
        control_valid_token(trial, protocol, endpoint, settings)
        attempt = trial.attempt(protocol, endpoint, variant, idnat=idnat)
        if attempt.outcome is AuthOutcome.NO_RESPONSE:
            raise CheckNotCarriedOut(f"{endpoint.url} : aucune réponse à l'authentification ({what})")
        assert not attempt.accepted, f"{endpoint.url} : {what} est accepté ({said(attempt)})"
        assert attempt.outcome in (AuthOutcome.REJECTED, AuthOutcome.CONNECTION_CLOSED), (
            f"{endpoint.url} : réponse non conforme au protocole pour {what} ({said(attempt)})"
        )
