"""What the checks share: opening sessions with evidence, minting, the valid-token control,
and the bouchon's view of how the operator validated a token.

A check reads as "send this, classify that, assert on what the server answered"; the
sentences it asserts with are the report's one-line reasons, in French.
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from mssante_conformance.conformance import CheckNotCarriedOut, NotApplicable
from mssante_conformance.evidence import Evidence
from mssante_conformance.mail.classify import AuthAttempt, AuthOutcome
from mssante_conformance.mail.errors import ProbeError
from mssante_conformance.mail.refusal import (
    Answer,
    Judgement,
    Verdict,
    auth_answer,
    describe_kinds,
    judge,
    probe_error_answer,
    smtp_answer,
)
from mssante_conformance.mail.imap import ImapProbe
from mssante_conformance.mail.smtp import SmtpProbe
from mssante_conformance.target import Target


# One more try after a transient answer (greylisting, rate limit): a short pause, inside the
# check's own deadline.
RETRY_DELAY_S = 1.0


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


# The session helper of each protocol: both probes name the same acts the same way.
SESSIONS = {"imap": imap_session, "smtp": smtp_session}


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


def xoauth2_exchange(target: Target, evidence, protocol: str, endpoint, token: str, label: str) -> AuthAttempt:
    """One session on ``endpoint`` (``imap`` or ``smtp``), one XOAUTH2 with ``token`` for the BAL."""
    with SESSIONS[protocol](target, evidence, endpoint, label=label) as p:
        return p.authenticate_xoauth2(target.bal, token)


class TokenTrial:
    """Authenticate with a token of a given variant on every endpoint of a protocol and
    record, per endpoint, what the server answered and what the bouchon saw."""

    def __init__(self, target: Target, evidence: Evidence) -> None:
        self.target = target
        self.evidence = evidence

    def attempt(self, protocol: str, endpoint, variant: str, *, idnat: str | None = None,
                label: str = "") -> AuthAttempt:
        """XOAUTH2 with a fresh token of ``variant`` on ``endpoint`` (``imap`` or ``smtp``);
        made ahead if the run prefetched it (``--concurrency``, mssante_conformance/concurrency.py)."""
        from mssante_conformance import concurrency

        label = label or f"jeton {variant}"
        ahead = concurrency.take(self.target, protocol, endpoint, variant, idnat, label)
        if ahead is not None:
            minted, attempt = concurrency.replay(ahead, self.evidence)
            self._note(endpoint, variant, minted, attempt, ahead.calls)
            return attempt
        minted = self.target.mint(variant, idnat=idnat)
        since = time.time()
        attempt = xoauth2_exchange(self.target, self.evidence, protocol, endpoint, minted.token, label)
        time.sleep(0.05)  # let the bouchon's call log settle
        self._note(endpoint, variant, minted, attempt, bouchon_calls_since(self.target, since))
        return attempt

    def _note(self, endpoint, variant, minted, attempt: AuthAttempt, calls: list[dict]) -> None:
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


def control_valid_token(trial: TokenTrial, protocol: str, endpoint) -> None:
    """Positive control before a rejection check: a refusal proves something only if a valid
    token is accepted on the same endpoint. Skipped in the monitoring profile (the operator
    does not trust the bouchon there), which the evidence says."""
    if trial.target.profile == "monitoring" or not trial.target.bal or not trial.target.idnat:
        trial.evidence.fact("témoin", "sans témoin (profil monitoring) : le refus n'est pas comparé "
                                       "à l'acceptation d'un jeton valide")
        return
    attempt = trial.attempt(protocol, endpoint, "valid", label="témoin : jeton valide")
    if not attempt.accepted:
        raise CheckNotCarriedOut(
            f"{endpoint.url} : témoin en échec, un jeton valide est refusé ({said(attempt)}) — "
            "un refus ne prouverait rien" + trust_hint(trial.target, trial.last_calls)
        )


def assert_no_mechanism_before_tls(url: str, mechanisms, profile: str) -> None:
    """Monitoring profile: the SASL mechanisms a STARTTLS endpoint offers *before* TLS.

    In the full profile the proof that authentication is refused before TLS is a valid token
    being refused there (and accepted after TLS). In monitoring the operator does not trust the
    bouchon, so every bouchon token is refused before TLS as after it and that proof is blind:
    an endpoint that offers XOAUTH2 in clear refuses the token for its issuer, not for the
    missing TLS. What stays observable is the offer itself: a mechanism announced before TLS
    invites a client to send its bearer token in clear, so it fails the check here.
    """
    offered = sorted(mechanisms)
    if profile == "monitoring" and offered:
        raise AssertionError(f"{url} : authentification proposée avant TLS ({', '.join(offered)}) — "
                             "un jeton serait envoyé en clair")


def refusal_kinds(request) -> tuple[str, ...]:
    """What the catalog counts as a refusal for the check being run (its ``refusal`` field)."""
    from mssante_conformance.catalog import load_catalog

    marker = request.node.get_closest_marker("check")
    check = load_catalog().check(marker.args[0])
    if not check.refusal:
        raise CheckNotCarriedOut(f"le catalogue ne dit pas ce qui compte comme refus pour {check.id}")
    return check.refusal


def judged_refusal(evidence: Evidence, where: str, kinds, attempt_once, *, what: str) -> Judgement:
    """Run ``attempt_once()`` → (answer, code, said), judge it against ``kinds``, retry once
    after a transient answer (4xx, NO [UNAVAILABLE]); raise ``error`` when still inconclusive,
    fail when accepted or out of protocol; returns the refusal's judgement."""
    judgements: list[Judgement] = []
    for attempt_no in (1, 2):
        answer, code, shown = attempt_once()
        confirmed = bool(judgements) and judgements[0].answer is answer and judgements[0].code == code
        judgement = judge(answer, kinds, code=code, said=shown, confirmed=confirmed)
        judgements.append(judgement)
        if not judgement.retry or attempt_no == 2:
            break
        time.sleep(RETRY_DELAY_S)
    evidence.fact(f"{where} / refus attendu", {
        "compte comme refus": list(kinds),
        "jugements": [j.to_dict() for j in judgements],
    })
    last = judgements[-1]
    assert last.verdict is not Verdict.ACCEPTED, f"{where} : {what} est accepté ({last.reason})"
    assert last.verdict is not Verdict.VIOLATION, f"{where} : réponse non conforme au protocole pour {what} ({last.reason})"
    if last.verdict is Verdict.INCONCLUSIVE:
        again = " ; après un nouvel essai : " + last.reason if len(judgements) == 2 else ""
        first = judgements[0].reason
        raise CheckNotCarriedOut(f"{where} : refus non établi pour {what} ({first}{again}) — attendu : "
                                 f"{describe_kinds(kinds)}")
    return last


def envelope_answer(p, steps) -> tuple[Answer, str, str, str | None]:
    """Run the SMTP ``steps`` (``(name, call)`` pairs, each returning an SmtpReply) until one
    is not positive: (answer, code, what was said, the step that refused or ``None``)."""
    for name, call in steps:
        reply = call()
        if not (reply.positive if name != "DATA" else reply.code == 250):
            return smtp_answer(reply.code), str(reply.code), f"{name} ({reply.code} {reply.text})", name
    return Answer.ACCEPTED, "250", "MAIL FROM, RCPT TO et DATA acceptés", None


def assert_token_refused(trial: TokenTrial, protocol: str, variant: str, *,
                         idnat: str | None = None, what: str, kinds=("imap_no_bad",)) -> None:
    """Every endpoint of ``protocol`` refuses a token of ``variant`` (after the control), with
    an answer ``kinds`` counts as a refusal (the check's catalog ``refusal``)."""
    for endpoint in getattr(trial.target, protocol):
        control_valid_token(trial, protocol, endpoint)

        def once():
            try:
                attempt = trial.attempt(protocol, endpoint, variant, idnat=idnat)
            except ProbeError as exc:  # dropped, timed out… before any answer
                answer, code = probe_error_answer(exc)
                return answer, code, str(exc)
            answer, code = auth_answer(attempt)
            return answer, code, said(attempt)

        judged_refusal(trial.evidence, endpoint.url, kinds, once, what=what)
