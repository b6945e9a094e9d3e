"""Theory of operation: what the server's answers mean, as data. No I/O here.

The drivers (``imap.py``, ``smtp.py``) send commands and collect raw server lines; this
module parses those lines and classifies an authentication exchange into an
:class:`AuthOutcome` with a normalized ``code``, the same vocabulary for IMAP and SMTP so a
check reads ``attempt.outcome is AuthOutcome.REJECTED and attempt.code == "PRIVACYREQUIRED"``
whatever the protocol:

==================== ================================ ===============================
code                 IMAP (RFC 5530 response code)    SMTP reply
==================== ================================ ===============================
AUTHENTICATIONFAILED ``NO [AUTHENTICATIONFAILED]``    535 (5.7.8)
PRIVACYREQUIRED      ``NO [PRIVACYREQUIRED]``         523 5.7.10, 530, 538
UNAVAILABLE          ``NO [UNAVAILABLE]``             454 and other 4xx
MALFORMED            ``BAD`` without code             501, 500
MECHANISM_UNSUPPORTED (NO/BAD text only)              504
==================== ================================ ===============================

Irregular cases, written out: an untagged ``BYE`` ends the exchange as a rejection with
status ``BYE``; a reply on another tag, an unparsable line or an SMTP ``334`` left
unanswered at the end are protocol violations; silence is ``NO_RESPONSE``, a closed
connection ``CONNECTION_CLOSED``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .sasl import ErrorChallenge


class AuthOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PROTOCOL_VIOLATION = "protocol_violation"
    NO_RESPONSE = "no_response"  # the server said nothing within the timeout
    CONNECTION_CLOSED = "connection_closed"  # the server hung up without a final answer


class ExchangeEnd(StrEnum):
    """How the driver's reading of an exchange ended."""

    REPLY = "reply"
    TIMEOUT = "timeout"
    CLOSED = "closed"


@dataclass(frozen=True)
class AuthAttempt:
    """One authentication exchange, classified.

    ``status``: the final answer as the server gave it (IMAP ``OK``/``NO``/``BAD``/``BYE``,
    SMTP ``"535"``…; ``""`` when none came). ``code``: the normalized code (table above) or
    ``None``. ``text``: the server's human text. ``challenge``: the decoded error challenge
    if the server sent one. ``answered_challenge``: the client answered it (empty line).
    ``lines``: the exchange as sent and received (``C: ``/``S: `` prefixes), redacted.
    """

    mechanism: str
    outcome: AuthOutcome
    status: str = ""
    code: str | None = None
    text: str = ""
    challenge: ErrorChallenge | None = None
    answered_challenge: bool = False
    lines: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.outcome is AuthOutcome.ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.outcome is AuthOutcome.REJECTED

    @property
    def followed_failure_convention(self) -> bool:
        """Challenge with base64 JSON, empty answer, then tagged ``NO`` / ``535``."""
        return (
            self.challenge is not None
            and self.challenge.json_valid
            and self.answered_challenge
            and self.outcome is AuthOutcome.REJECTED
            and self.status in ("NO", "535")
        )

    def to_dict(self) -> dict:
        return {
            "mechanism": self.mechanism,
            "outcome": str(self.outcome),
            "status": self.status,
            "code": self.code,
            "text": self.text,
            "challenge": self.challenge.to_dict() if self.challenge else None,
            "answered_challenge": self.answered_challenge,
            "followed_failure_convention": self.followed_failure_convention,
            "lines": list(self.lines),
        }


# ---------------------------------------------------------------------------------- IMAP

_IMAP_LINE = re.compile(r"^(?P<tag>\*|\+|[A-Za-z0-9.]+)(?: (?P<rest>.*))?$")
_IMAP_CODE = re.compile(r"^\[(?P<code>[^\]]*)\]\s*(?P<text>.*)$")
IMAP_STATUSES = ("OK", "NO", "BAD", "BYE", "PREAUTH")


@dataclass(frozen=True)
class ImapLine:
    """One parsed server line. ``kind``: ``tagged``, ``untagged``, ``continuation``, ``garbage``."""

    kind: str
    tag: str = ""
    status: str = ""  # OK/NO/BAD/BYE/PREAUTH for status responses, else ""
    code: str | None = None  # first word of the [RESP-CODE], upper-case
    code_args: str = ""
    text: str = ""  # rest of the line (after status and code)
    raw: str = ""


def parse_imap_line(line: str) -> ImapLine:
    """Parse one IMAP server line (without CRLF)."""
    match = _IMAP_LINE.match(line)
    if not match:
        return ImapLine("garbage", raw=line, text=line)
    tag, rest = match["tag"], match["rest"] or ""
    if tag == "+":
        return ImapLine("continuation", tag="+", text=rest, raw=line)
    kind = "untagged" if tag == "*" else "tagged"
    word, _, after = rest.partition(" ")
    if word.upper() in IMAP_STATUSES:
        code, code_args, text = None, "", after
        code_match = _IMAP_CODE.match(after)
        if code_match:
            code_word, _, code_args = code_match["code"].partition(" ")
            code, text = code_word.upper(), code_match["text"]
        return ImapLine(kind, tag, word.upper(), code, code_args, text, line)
    if kind == "tagged":
        return ImapLine("garbage", raw=line, text=line)  # a tagged line must carry a status
    return ImapLine(kind, tag, "", None, "", rest, line)


def is_imap_greeting(line: str) -> bool:
    parsed = parse_imap_line(line)
    return parsed.kind == "untagged" and parsed.status in ("OK", "PREAUTH", "BYE")


def capabilities_from(lines: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Capabilities from ``* CAPABILITY …`` lines or a ``[CAPABILITY …]`` response code."""
    found: set[str] = set()
    for line in lines:
        parsed = parse_imap_line(line)
        if parsed.code == "CAPABILITY":
            found.update(parsed.code_args.upper().split())
        elif parsed.kind == "untagged" and parsed.text.upper().startswith("CAPABILITY "):
            found.update(parsed.text.upper().split()[1:])
    return frozenset(found)


@dataclass(frozen=True)
class ImapResult:
    """The completion of a (non-authentication) IMAP command.

    ``status`` ``OK``/``NO``/``BAD`` (or ``BYE``), ``code``/``text`` of the tagged line,
    ``untagged``: the untagged lines received before it.
    """

    command: str
    status: str
    code: str | None = None
    text: str = ""
    untagged: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    def to_dict(self) -> dict:
        return {"command": self.command, "status": self.status, "code": self.code, "text": self.text}


def classify_imap_auth(
    mechanism: str,
    tag: str,
    server_lines: list[str],
    end: ExchangeEnd,
    *,
    challenge: ErrorChallenge | None = None,
    answered_challenge: bool = False,
    exchange: tuple[str, ...] = (),
) -> AuthAttempt:
    """Classify the server lines that followed ``tag AUTHENTICATE …``."""
    common = dict(challenge=challenge, answered_challenge=answered_challenge, lines=exchange)
    for line in server_lines:
        parsed = parse_imap_line(line)
        if parsed.kind == "garbage" or (parsed.kind == "tagged" and parsed.tag != tag):
            return AuthAttempt(mechanism, AuthOutcome.PROTOCOL_VIOLATION, text=line, **common)
        if parsed.kind == "tagged":
            outcome = AuthOutcome.ACCEPTED if parsed.status == "OK" else AuthOutcome.REJECTED
            code = parsed.code
            if parsed.status == "BAD" and code is None:
                code = "MALFORMED"
            if outcome is AuthOutcome.ACCEPTED:
                code = None  # [CAPABILITY …] on success is not an auth code
            return AuthAttempt(mechanism, outcome, parsed.status, code, parsed.text, **common)
        if parsed.status == "BYE":
            return AuthAttempt(mechanism, AuthOutcome.REJECTED, "BYE", parsed.code, parsed.text, **common)
    if end is ExchangeEnd.TIMEOUT:
        return AuthAttempt(mechanism, AuthOutcome.NO_RESPONSE, **common)
    if end is ExchangeEnd.CLOSED:
        return AuthAttempt(mechanism, AuthOutcome.CONNECTION_CLOSED, **common)
    return AuthAttempt(mechanism, AuthOutcome.PROTOCOL_VIOLATION, text="pas de réponse étiquetée", **common)


# ---------------------------------------------------------------------------------- SMTP

_ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s*")


@dataclass(frozen=True)
class SmtpReply:
    """One SMTP reply: ``code`` (-1 when unparsable), ``lines`` (text after the code)."""

    code: int
    lines: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def enhanced_status(self) -> str | None:
        match = _ENHANCED.match(self.lines[-1] if self.lines else "")
        return match.group(1) if match else None

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    def to_dict(self) -> dict:
        return {"code": self.code, "enhanced_status": self.enhanced_status, "text": self.text}


# final reply code after AUTH → (outcome, normalized code)
SMTP_AUTH_REPLIES: dict[int, tuple[AuthOutcome, str | None]] = {
    235: (AuthOutcome.ACCEPTED, None),
    535: (AuthOutcome.REJECTED, "AUTHENTICATIONFAILED"),
    534: (AuthOutcome.REJECTED, "MECHANISM_TOO_WEAK"),
    538: (AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
    523: (AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
    530: (AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
    454: (AuthOutcome.REJECTED, "UNAVAILABLE"),
    504: (AuthOutcome.REJECTED, "MECHANISM_UNSUPPORTED"),
    501: (AuthOutcome.REJECTED, "MALFORMED"),
    500: (AuthOutcome.REJECTED, "MALFORMED"),
    503: (AuthOutcome.REJECTED, "BAD_SEQUENCE"),
}


def classify_smtp_auth(
    mechanism: str,
    final: SmtpReply | None,
    end: ExchangeEnd,
    *,
    challenge: ErrorChallenge | None = None,
    answered_challenge: bool = False,
    exchange: tuple[str, ...] = (),
) -> AuthAttempt:
    """Classify the last reply of an ``AUTH`` exchange (after any challenge was answered)."""
    common = dict(challenge=challenge, answered_challenge=answered_challenge, lines=exchange)
    if final is None:
        outcome = AuthOutcome.NO_RESPONSE if end is ExchangeEnd.TIMEOUT else AuthOutcome.CONNECTION_CLOSED
        return AuthAttempt(mechanism, outcome, **common)
    status = str(final.code)
    if final.code in SMTP_AUTH_REPLIES:
        outcome, code = SMTP_AUTH_REPLIES[final.code]
    elif 400 <= final.code < 500:
        outcome, code = AuthOutcome.REJECTED, "UNAVAILABLE"
    elif 500 <= final.code < 600:
        outcome, code = AuthOutcome.REJECTED, None
    else:  # 334 left pending, 250 to AUTH, unparsable…
        outcome, code = AuthOutcome.PROTOCOL_VIOLATION, None
    return AuthAttempt(mechanism, outcome, status, code, final.text, **common)


# ----------------------------------------------------------------------------------- TLS

# Markers of suites LPS-TLS-05 forbids, in IANA names as sslyze reports them.
WEAK_SUITE_MARKERS: dict[str, str] = {
    "_NULL_": "NULL (sans chiffrement)",
    "_EXPORT": "EXPORT",
    "_RC4_": "RC4",
    "_DES_": "DES",
    "_3DES_": "3DES",
    "DES_CBC": "DES",
    "_anon_": "anonyme (sans authentification)",
    "_MD5": "MD5",
}


def weak_suite_reasons(suite_name: str) -> tuple[str, ...]:
    """Why a cipher suite is weak (empty when it is not)."""
    name = "_" + suite_name + "_"
    found: list[str] = []
    for marker, reason in WEAK_SUITE_MARKERS.items():
        if marker in name and reason not in found:
            found.append(reason)
    return tuple(found)
