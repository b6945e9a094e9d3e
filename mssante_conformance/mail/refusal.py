"""Theory of operation: is what the server did a *definite refusal*? Pure, no I/O.

A rejection check (a forged token, an MTA without a certificate…) passes only when the
operator refused, and "refused" must mean the same on every operator. The catalog says, per
check, which kinds of answer count as a refusal (``refusal = ["smtp_5xx", "tls_handshake"]``);
this module turns what a driver saw into one :class:`Answer` and judges it against that list:

================== ============================================ =============================
answer             what the server did                          verdict
================== ============================================ =============================
``accepted``       2xx/235/250 to the final command, IMAP OK     ACCEPTED (the check fails)
``smtp_5xx``       a permanent SMTP reply (535, 530, 554…)       REFUSED if the check lists
                                                                ``smtp_5xx``
``imap_no_bad``    tagged ``NO``/``BAD``, or ``* BYE``           REFUSED if ``imap_no_bad``
``tls_handshake``  the TLS handshake failed with an alert from  REFUSED if ``tls_handshake``
                   the server, or an alert on its first read
                   (TLS 1.3 sends ``certificate required`` /
                   ``unknown ca`` after the client's Finished)
``smtp_4xx_tls_    a 4xx with enhanced status 4.7.x right after   REFUSED if the check lists
policy``           the TLS handshake, given again on the retry  it *and* the retry gave it
                   (Postfix ``smtpd_tls_req_ccert``: « 421       again; else as ``smtp_4xx``
                   4.7.1 … No client certificate presented »)
``smtp_4xx``       a transient SMTP reply (454, 421, 450…)       INCONCLUSIVE, retry once
``imap_transient`` ``NO [UNAVAILABLE]``/``[SERVERBUG]``/          INCONCLUSIVE, retry once
                   ``[INUSE]`` (RFC 5530: try again later)
``dropped``        connection closed without an answer and      INCONCLUSIVE
                   without a TLS alert
``timeout``        no answer within the deadline                INCONCLUSIVE
``unreachable``    no TCP connection                            INCONCLUSIVE
``unverified``     the harness could not verify the server's    INCONCLUSIVE
                   certificate (nothing was asked of the server)
``violation``      an answer outside the protocol (250 to       VIOLATION (the check fails:
                   ``AUTH``, 334 left pending, garbage)          neither refused nor accepted)
================== ============================================ =============================

Why ``smtp_4xx_tls_policy``: measured on the reference MX (Postfix 3.7, ``smtpd_tls_req_ccert =
yes``), an MTA without a client certificate, or with one of another CA, completes the TLS
handshake and gets ``421 4.7.1 … Error: No client certificate presented`` / ``Client certificate
not trusted`` to its EHLO, then the connection closes — no TLS alert, no 5xx. Postfix answers
4xx on purpose (a sender with a broken certificate queues and retries instead of bouncing), and
it is the stock MSSanté MX. The answer is a policy decision about the TLS client (4.7.x is
"security or policy", RFC 3463), given at the first command after the handshake; answered
again on the retry it is counted as a refusal, by the checks that list it only.

Irregular cases, written out: a definite refusal of a kind the check does not list (a 5xx
where only a TLS refusal was expected) is INCONCLUSIVE — the server refused, but not where
the check looks, so the check proves nothing; an SMTP code that is neither 2xx/3xx/4xx/5xx is
a violation. A 4xx is retried once by the caller (greylisting, rate limits); if the retry is
still transient, the check ends ``error`` with both answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# The refusal kinds a catalog check may list, with their French description for reasons.
REFUSAL_KINDS: dict[str, str] = {
    "smtp_5xx": "une réponse SMTP 5xx définitive",
    "imap_no_bad": "une réponse IMAP NO/BAD étiquetée (ou BYE)",
    "tls_handshake": "un refus pendant la négociation TLS (alerte TLS du serveur)",
    "smtp_4xx_tls_policy": "une réponse 4xx 4.7.x dès la fin de la négociation TLS, répétée au nouvel essai",
}

# RFC 5530 codes that say "not now", not "no".
IMAP_TRANSIENT_CODES = frozenset({"UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"})

# OpenSSL reasons that carry an alert *sent by the peer* ("SSLV3_ALERT_…", "TLSV1_ALERT_…",
# "TLSV13_ALERT_…"), as opposed to local failures (EOF, verification by the harness).
_TLS_ALERT = re.compile(r"\b((?:SSLV3|TLSV1|TLSV13)_ALERT_[A-Z_]+)\b", re.IGNORECASE)


# Enhanced status 4.7.x (RFC 3463: security or policy) at the start of a reply's text.
_POLICY_4XX = re.compile(r"^(4\.7\.\d{1,3})\b")


class Answer(StrEnum):
    ACCEPTED = "accepted"
    SMTP_5XX = "smtp_5xx"
    IMAP_NO_BAD = "imap_no_bad"
    TLS_HANDSHAKE = "tls_handshake"
    SMTP_4XX_TLS_POLICY = "smtp_4xx_tls_policy"
    SMTP_4XX = "smtp_4xx"
    IMAP_TRANSIENT = "imap_transient"
    DROPPED = "dropped"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    UNVERIFIED = "unverified"
    VIOLATION = "violation"


class Verdict(StrEnum):
    REFUSED = "refused"
    ACCEPTED = "accepted"
    INCONCLUSIVE = "inconclusive"
    VIOLATION = "violation"


# answer → (verdict when the check lists it / for the non-refusal answers, retry?, French)
_TABLE: dict[Answer, tuple[Verdict | None, bool, str]] = {
    Answer.ACCEPTED: (Verdict.ACCEPTED, False, "réponse positive"),
    Answer.SMTP_5XX: (None, False, "réponse SMTP 5xx définitive"),
    Answer.IMAP_NO_BAD: (None, False, "réponse IMAP NO/BAD"),
    Answer.TLS_HANDSHAKE: (None, False, "alerte TLS du serveur"),
    Answer.SMTP_4XX_TLS_POLICY: (None, True, "réponse SMTP 4xx 4.7.x de politique TLS"),
    Answer.SMTP_4XX: (Verdict.INCONCLUSIVE, True, "réponse SMTP 4xx temporaire"),
    Answer.IMAP_TRANSIENT: (Verdict.INCONCLUSIVE, True, "réponse IMAP NO temporaire"),
    Answer.DROPPED: (Verdict.INCONCLUSIVE, False, "connexion coupée sans réponse ni alerte TLS"),
    Answer.TIMEOUT: (Verdict.INCONCLUSIVE, False, "aucune réponse dans le délai"),
    Answer.UNREACHABLE: (Verdict.INCONCLUSIVE, False, "serveur injoignable"),
    Answer.UNVERIFIED: (Verdict.INCONCLUSIVE, False, "certificat du serveur non vérifié par le harnais"),
    Answer.VIOLATION: (Verdict.VIOLATION, False, "réponse hors protocole"),
}


@dataclass(frozen=True)
class Judgement:
    """``verdict``; ``answer`` (what the server did); ``retry``: a transient answer the caller
    should try once more; ``reason``: French, what the server did and why it is (not) enough;
    ``code``: the server's code as given (``"535"``, ``"NO"``, an alert name…), for evidence."""

    verdict: Verdict
    answer: Answer
    retry: bool
    reason: str
    code: str = ""

    @property
    def refused(self) -> bool:
        return self.verdict is Verdict.REFUSED

    def to_dict(self) -> dict:
        return {"verdict": str(self.verdict), "answer": str(self.answer), "code": self.code,
                "reason": self.reason}


def judge(answer: Answer, accepted_kinds, *, code: str = "", said: str = "",
          confirmed: bool = False) -> Judgement:
    """Judge ``answer`` against the refusal kinds a check lists (``accepted_kinds``).
    ``confirmed``: this answer is the retry's and the first attempt gave the same answer."""
    kinds = tuple(accepted_kinds)
    unknown = [k for k in kinds if k not in REFUSAL_KINDS]
    if unknown or not kinds:
        raise ValueError(f"refusal kinds must be a non-empty subset of {sorted(REFUSAL_KINDS)}: {kinds}")
    fixed, retry, label = _TABLE[answer]
    shown = f"{label} ({said})" if said else label
    if fixed is not None:
        return Judgement(fixed, answer, retry, shown, code)
    if answer.value in kinds and (not retry or confirmed):
        return Judgement(Verdict.REFUSED, answer, False, shown, code)
    if answer.value in kinds:  # a refusal only once the retry gives it again
        return Judgement(Verdict.INCONCLUSIVE, answer, True, shown, code)
    expected = " ou ".join(REFUSAL_KINDS[k] for k in kinds)
    return Judgement(Verdict.INCONCLUSIVE, answer, retry,
                     f"{shown}, alors que le contrôle attend {expected}", code)


def describe_kinds(kinds) -> str:
    """French: what a check counts as a refusal."""
    return " ou ".join(REFUSAL_KINDS[k] for k in kinds)


# ------------------------------------------------------------------------ from the drivers
def tls_alert_in(text: str) -> str | None:
    """The name of a TLS alert received from the peer in an OpenSSL reason, if any."""
    match = _TLS_ALERT.search(text or "")
    return match.group(1).upper() if match else None


def smtp_answer(code: int) -> Answer:
    """A final SMTP reply code, as an answer."""
    if 200 <= code < 300:
        return Answer.ACCEPTED
    if 400 <= code < 500:
        return Answer.SMTP_4XX
    if 500 <= code < 600:
        return Answer.SMTP_5XX
    return Answer.VIOLATION  # 3xx left pending at the end, or no SMTP code at all


def imap_answer(status: str, code: str | None) -> Answer:
    """A tagged IMAP status (``OK``/``NO``/``BAD``) or an untagged ``BYE``, as an answer."""
    status = (status or "").upper()
    if status == "OK":
        return Answer.ACCEPTED
    if status == "NO" and (code or "").upper() in IMAP_TRANSIENT_CODES:
        return Answer.IMAP_TRANSIENT
    if status in ("NO", "BAD", "BYE"):
        return Answer.IMAP_NO_BAD
    return Answer.VIOLATION


def auth_answer(attempt) -> tuple[Answer, str]:
    """An :class:`~mssante_conformance.mail.classify.AuthAttempt` as (answer, code shown)."""
    from .classify import AuthOutcome

    if attempt.outcome is AuthOutcome.NO_RESPONSE:
        return Answer.TIMEOUT, ""
    if attempt.outcome is AuthOutcome.CONNECTION_CLOSED:
        alert = tls_alert_in(attempt.text)
        return (Answer.TLS_HANDSHAKE, alert) if alert else (Answer.DROPPED, "")
    if attempt.outcome is AuthOutcome.PROTOCOL_VIOLATION:
        return Answer.VIOLATION, attempt.status
    status = attempt.status or ""
    if status.isdigit():
        return smtp_answer(int(status)), status
    return imap_answer(status, attempt.code), " ".join(filter(None, (status, attempt.code)))


def probe_error_answer(exc) -> tuple[Answer, str]:
    """A :class:`~mssante_conformance.mail.errors.ProbeError` met before an answer came."""
    from .errors import ConnectionFailed, ConnectionLost, ProbeTimeout, TlsFailure, CertificateNotTrusted

    alert = tls_alert_in(str(exc))
    if isinstance(exc, CertificateNotTrusted):
        return Answer.UNVERIFIED, ""
    if alert and isinstance(exc, (TlsFailure, ConnectionLost)):
        return Answer.TLS_HANDSHAKE, alert
    if isinstance(exc, ProbeTimeout):
        return Answer.TIMEOUT, ""
    if isinstance(exc, ConnectionFailed):
        return Answer.UNREACHABLE, ""
    return Answer.DROPPED, ""


def delivery_answer(delivery) -> tuple[Answer, str]:
    """An MTA session (:class:`~mssante_conformance.mail.mta.MtaDelivery`) as (answer, code)."""
    from .mta import MtaOutcome, MtaStep

    outcome = delivery.outcome
    if outcome is MtaOutcome.DELIVERED:
        return Answer.ACCEPTED, str(delivery.reply.code) if delivery.reply else ""
    if outcome is MtaOutcome.REFUSED and delivery.reply is not None:
        reply = delivery.reply
        if (400 <= reply.code < 500 and delivery.step in (MtaStep.TLS_HANDSHAKE, MtaStep.EHLO_AFTER_TLS)
                and _POLICY_4XX.match(reply.text)):
            return Answer.SMTP_4XX_TLS_POLICY, f"{reply.code} {_POLICY_4XX.match(reply.text).group(1)}"
        return smtp_answer(reply.code), str(reply.code)
    if outcome is MtaOutcome.TLS_FAILED:
        if delivery.detail.startswith("certificat du MX non vérifié"):
            return Answer.UNVERIFIED, ""
        alert = tls_alert_in(delivery.detail)
        return (Answer.TLS_HANDSHAKE, alert) if alert else (Answer.DROPPED, "")
    return {
        MtaOutcome.DROPPED: (Answer.DROPPED, ""),
        MtaOutcome.TIMEOUT: (Answer.TIMEOUT, ""),
        MtaOutcome.CONNECT_FAILED: (Answer.UNREACHABLE, ""),
    }.get(outcome, (Answer.VIOLATION, ""))
