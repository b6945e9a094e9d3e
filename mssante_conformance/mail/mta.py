"""The harness acting as a trust-space MTA towards an operator's MX (OPI-IN-01…07).

::

    from mssante_conformance.mail.mta import send_as_mta, MtaOutcome
    d = send_as_mta("127.0.0.3", 2525, helo="mta.harnais.mssante.test",
                    mail_from="robot@harnais.mssante.test", rcpt_to="bal@operateur.test",
                    message=b"Subject: OPI-IN-02 …\\r\\n\\r\\n…", client_cert=pki.harness_mta.cert,
                    client_key=pki.harness_mta.key, ca_file=pki.ca_file)
    d.outcome, d.step, d.reply        # DELIVERED/REFUSED/DROPPED/TLS_FAILED/TIMEOUT/…, where, what
    d.tls                             # TlsInfo of the MX (version, cipher, its certificate)
    d.transcript                      # ("S: 220 …", "C: EHLO …", …) — never the message body

One session, one message, every step bounded by ``timeout`` (a reply line as a whole, not
each read) and by the check's deadline (:mod:`.deadline`); nothing raises for what the MX
does (refuses, drops, never answers, talks garbage): it all ends up in the result. The message
is sent dot-stuffed with CRLF line endings.

``tls_version``: ``None`` = this OpenSSL's defaults (TLS 1.2+); a version (``"TLSv1"``,
``"1.1"``, ``ssl.TLSVersion.TLSv1_2``…) forces exactly that version; a ``(min, max)`` pair a
range. TLS 1.0/1.1 need ``@SECLEVEL=0`` on OpenSSL 3, set automatically.
``ca_file``: the MX certificate must chain to it (host name not required: MXs are reached by
IP here; :attr:`TlsInfo.hostname_matched` says whether it matched); without it, the MX
certificate is recorded unverified.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import Message
from enum import Enum
from pathlib import Path

from . import breaker
from .connection import LineSocket, connect_to
from .errors import (
    CertificateNotTrusted,
    CheckDeadlineExceeded,
    ConnectionFailed,
    EndpointUnavailable,
    ProbeError,
    ProbeTimeout,
    ProtocolMismatch,
    TlsAlert,
)
from .tls import TlsInfo, client_context, handshake
from .transcript import Transcript

MAX_LINE = 4096
MAX_REPLY_LINES = 200


class MtaStep(str, Enum):
    CONNECT = "connect"
    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    TLS_HANDSHAKE = "tls_handshake"
    EHLO_AFTER_TLS = "ehlo_after_tls"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    MESSAGE = "message"  # the message body and final dot: the MX's verdict on the message


class MtaOutcome(str, Enum):
    DELIVERED = "delivered"  # 2xx after the final dot
    REFUSED = "refused"  # the MX answered 4xx/5xx (or an unexpected code) at ``step``
    DROPPED = "dropped"  # the MX closed the connection at ``step``
    TLS_FAILED = "tls_failed"  # handshake failed, or a TLS alert ended the session after it
    TIMEOUT = "timeout"  # no answer within the timeout at ``step``
    CONNECT_FAILED = "connect_failed"  # no TCP connection
    PROTOCOL_ERROR = "protocol_error"  # unreadable reply (not SMTP, line too long…)


@dataclass(frozen=True)
class MtaReply:
    code: int
    text: str  # the reply lines' texts joined by "\n"

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class MtaDelivery:
    """What happened to one delivery attempt.

    ``outcome``/``step``: how and where it ended (``step`` = MESSAGE for a delivery);
    ``reply``: the MX's last reply (``None`` when it dropped or never answered);
    ``detail``: one French sentence; ``tls``: the MX's TLS facts when the handshake
    completed; ``starttls_offered``: EHLO listed STARTTLS; ``extensions``: EHLO keywords
    (after TLS if it was negotiated); ``rcpt_replies``: (recipient, reply) pairs;
    ``transcript``: the session's lines (message body never included).
    """

    outcome: MtaOutcome
    step: MtaStep
    reply: MtaReply | None
    detail: str
    tls: TlsInfo | None
    starttls_offered: bool | None
    extensions: tuple[str, ...]
    rcpt_replies: tuple[tuple[str, MtaReply], ...]
    transcript: tuple[str, ...]

    @property
    def delivered(self) -> bool:
        return self.outcome is MtaOutcome.DELIVERED

    @property
    def refused(self) -> bool:
        """The MX turned the delivery down in some way (answer, drop or TLS)."""
        return self.outcome in (MtaOutcome.REFUSED, MtaOutcome.DROPPED, MtaOutcome.TLS_FAILED)

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "step": self.step.value,
            "reply": {"code": self.reply.code, "text": self.reply.text} if self.reply else None,
            "detail": self.detail,
            "tls": self.tls.to_dict() if self.tls else None,
            "starttls_offered": self.starttls_offered,
            "extensions": list(self.extensions),
            "rcpt_replies": [[r, {"code": x.code, "text": x.text}] for r, x in self.rcpt_replies],
            "transcript": list(self.transcript),
        }


# -- pure helpers ----------------------------------------------------------------------------
_VERSIONS = {
    "1": ssl.TLSVersion.TLSv1, "1.0": ssl.TLSVersion.TLSv1, "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3, "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}


def parse_tls_version(value: str | ssl.TLSVersion) -> ssl.TLSVersion:
    if isinstance(value, ssl.TLSVersion):
        return value
    key = str(value).strip().lower().replace("_", ".").replace(" ", "")
    if key not in _VERSIONS:
        raise ValueError(f"version TLS inconnue : {value!r} (attendu : TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)")
    return _VERSIONS[key]


def tls_range(tls_version) -> tuple[ssl.TLSVersion, ssl.TLSVersion] | None:
    if tls_version is None:
        return None
    if isinstance(tls_version, (tuple, list)):
        low, high = (parse_tls_version(v) for v in tls_version)
        return low, high
    version = parse_tls_version(tls_version)
    return version, version


def dot_stuff(message: bytes) -> bytes:
    """CRLF line endings, leading dots doubled, terminated by CRLF.CRLF (RFC 5321 4.5.2)."""
    lines = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    body = b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)
    return body + b".\r\n"


def message_bytes(message: bytes | str | Message) -> bytes:
    if isinstance(message, Message):
        return message.as_bytes()
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


# -- how a session ends ----------------------------------------------------------------------
_O = MtaOutcome
# A probe fault (raised by the shared connection and TLS code) ends the session: the first row
# whose type matches gives the outcome and the French detail. ``{exc}``: the probe's one-line
# reason; ``{step}``: the MTA step; ``{where}``: host:port; ``{t}``: the per-step timeout.
# Two steps are irregular and have their own rows: at connect, silence is a connection without
# answer; during the handshake, any fault but a timeout or plaintext is the MX turning TLS down.
_ANY_STEP = (
    (CheckDeadlineExceeded, _O.TIMEOUT, "{exc} (étape {step})"),
    (ProbeTimeout, _O.TIMEOUT, "pas de réponse complète du MX en {t:g} s (étape {step})"),
    (TlsAlert, _O.TLS_FAILED, "le MX a interrompu la session TLS (étape {step}) : {exc}"),
    (ProtocolMismatch, _O.PROTOCOL_ERROR, "{exc} (étape {step})"),
    (ProbeError, _O.DROPPED, "le MX a coupé la connexion (étape {step}) : {exc}"),
)
ENDINGS: dict[MtaStep | None, tuple[tuple[type[ProbeError], MtaOutcome, str], ...]] = {
    MtaStep.CONNECT: (
        (CheckDeadlineExceeded, _O.TIMEOUT, "{exc} (étape {step})"),
        (ProbeTimeout, _O.TIMEOUT, "connexion à {where} sans réponse en {t:g} s"),
        (EndpointUnavailable, _O.CONNECT_FAILED, "{exc}"),
        (ConnectionFailed, _O.CONNECT_FAILED, "connexion impossible : {exc}"),
    ),
    MtaStep.TLS_HANDSHAKE: (
        (CheckDeadlineExceeded, _O.TIMEOUT, "{exc} (étape {step})"),
        (CertificateNotTrusted, _O.TLS_FAILED, "certificat du MX non vérifié : {exc.verify_error}"),
        (ProbeTimeout, _O.TIMEOUT, "négociation TLS sans réponse en {t:g} s"),
        (ProtocolMismatch, _O.PROTOCOL_ERROR, "{exc}"),
        (ProbeError, _O.TLS_FAILED, "{exc}"),
    ),
    None: _ANY_STEP,
}


def ending(exc: ProbeError, step: MtaStep, where: str, timeout: float) -> tuple[MtaOutcome, str]:
    """The outcome and detail of a session that ``exc`` ended at ``step`` (see :data:`ENDINGS`)."""
    for kind, outcome, detail in ENDINGS.get(step, ENDINGS[None]):
        if isinstance(exc, kind):
            return outcome, detail.format(exc=exc, step=step.value, where=where, t=timeout)
    raise AssertionError(f"no ending for {type(exc).__name__}")  # every table ends with ProbeError


class _Refused(Exception):
    """The MX answered, and not what the session needed: ends it with REFUSED."""

    def __init__(self, detail: str, reply: MtaReply | None = None) -> None:
        super().__init__(detail)
        self.detail, self.reply = detail, reply


# -- the session -----------------------------------------------------------------------------
class _MtaSession:
    """One SMTP session on the shared :func:`~.connection.connect_to` and
    :class:`~.connection.LineSocket` (each reply line bounded by ``timeout`` as a whole: an MX
    that drips one byte every few seconds cannot hold it) and :func:`~.tls.handshake`; every
    step is also bounded by the check's deadline (:mod:`.deadline`). Faults are the probes'
    :class:`~.errors.ProbeError`; the run's circuit breaker (:mod:`.breaker`) is consulted
    before connecting and told when the MX is unreachable or mute.
    """

    def __init__(self, host: str, port: int, timeout: float, transcript: Transcript) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.where = f"{host}:{port}"
        self.tr = transcript
        self.io: LineSocket | None = None
        self.step = MtaStep.CONNECT

    def _trip(self, exc: ProbeError) -> None:
        """Tell the run's breaker the MX is unreachable or mute (not for a spent deadline)."""
        if not isinstance(exc, CheckDeadlineExceeded):
            outcome, detail = ending(exc, self.step, self.where, self.timeout)
            breaker.trip(self.host, self.port, f"smtp://{self.where}", detail)

    def connect(self) -> None:
        trip = breaker.open_trip(self.host, self.port)
        if trip is not None:
            raise EndpointUnavailable(trip.message(), step="connect")
        try:
            sock = connect_to(self.host, self.port, self.timeout)
        except ProbeError as exc:
            self._trip(exc)
            raise
        self.io = LineSocket(sock, self.timeout, self.where, max_line=MAX_LINE)

    def reply(self) -> MtaReply:
        assert self.io is not None
        texts: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            try:
                raw = self.io.readline_bytes(self.step.value)
            except ProtocolMismatch:
                raise ProtocolMismatch(f"ligne de réponse de plus de {MAX_LINE} octets",
                                       step=self.step.value) from None
            except ProbeTimeout as exc:
                if self.step is MtaStep.GREETING:
                    self._trip(exc)  # a mute MX
                raise
            line = raw.decode("utf-8", "replace")
            self.tr.server(line)
            if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
                raise ProtocolMismatch(f"réponse non SMTP du MX : {line[:80]!r}", step=self.step.value)
            texts.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return MtaReply(int(line[:3]), "\n".join(texts))
        raise ProtocolMismatch(f"réponse de plus de {MAX_REPLY_LINES} lignes", step=self.step.value)

    def send(self, data: bytes, shown: str | None = None) -> None:
        assert self.io is not None
        if shown is not None:
            self.tr.client(shown)
        self.io.send(data, self.step.value)

    def command(self, step: MtaStep, line: str, ok: tuple[int, ...] = (250,)) -> MtaReply:
        self.step = step
        self.send(line.encode("utf-8", "surrogateescape") + b"\r\n", line)
        answer = self.reply()
        if answer.code not in ok:
            raise _Refused(f"le MX a refusé à l'étape {step.value} : {answer}", answer)
        return answer

    def starttls(self, tls: dict) -> TlsInfo:
        self.step = MtaStep.TLS_HANDSHAKE
        assert self.io is not None
        if self.io.buffered:
            raise ProtocolMismatch("le MX a envoyé des données en clair après 220 STARTTLS",
                                   step=self.step.value)
        tls_sock, info = handshake(self.io.sock, self.host, timeout=self.timeout,
                                   step=self.step.value, **tls)
        self.io.replace_socket(tls_sock)
        self.tr.tls(info)
        return info

    def close(self) -> None:
        if self.io is not None:
            self.io.close()


def mta_tls_options(
    *, client_cert: str | Path | None, client_key: str | Path | None, ca_file: str | Path | None, tls_version=None
) -> dict:
    """The :func:`~.tls.handshake` options of the harness MTA: the MX certificate verified
    against ``ca_file`` when given (never its host name: MXs are reached by IP here), the
    client certificate presented, the versions offered. Checked here, before any connection:
    an unknown version or an unreadable certificate is the caller's mistake, not the MX's."""
    low, high = tls_range(tls_version) or (None, None)
    options = dict(
        verify=bool(ca_file), ca_file=str(ca_file) if ca_file else None, check_hostname=False,
        client_cert=(str(client_cert), str(client_key) if client_key else None) if client_cert else None,
        verify_error=None if ca_file else "vérification non demandée (pas de ca_file)",
        min_version=low, max_version=high,
    )
    client_context(**{k: v for k, v in options.items() if k != "verify_error"})
    return options


def _extensions(reply: MtaReply) -> tuple[str, ...]:
    return tuple(line.split()[0].upper() for line in reply.text.split("\n")[1:] if line.split())


def send_as_mta(
    host: str,
    port: int,
    *,
    helo: str,
    mail_from: str,
    rcpt_to: str | list[str] | tuple[str, ...],
    message: bytes | str | Message,
    starttls: bool = True,
    client_cert: str | Path | None = None,
    client_key: str | Path | None = None,
    ca_file: str | Path | None = None,
    tls_version=None,
    timeout: float = 10,
) -> MtaDelivery:
    """Deliver one message to the MX at ``host:port`` as a trust-space MTA would."""
    recipients = [rcpt_to] if isinstance(rcpt_to, str) else list(rcpt_to)
    # A bad local parameter (unknown TLS version, unreadable certificate) is the caller's
    # mistake, not the MX's: raise it before any connection.
    tls_options = (
        mta_tls_options(client_cert=client_cert, client_key=client_key, ca_file=ca_file, tls_version=tls_version)
        if starttls
        else None
    )
    transcript = Transcript(title=f"MTA du harnais → {host}:{port}")
    session = _MtaSession(host, port, timeout, transcript)
    tls: TlsInfo | None = None
    starttls_offered: bool | None = None
    extensions: tuple[str, ...] = ()
    rcpt_replies: list[tuple[str, MtaReply]] = []
    last: MtaReply | None = None
    try:
        session.connect()
        session.step = MtaStep.GREETING
        last = session.reply()
        if last.code != 220:
            raise _Refused(f"accueil du MX : {last}", last)
        last = session.command(MtaStep.EHLO, f"EHLO {helo}")
        extensions = _extensions(last)
        starttls_offered = "STARTTLS" in extensions
        if tls_options is not None:
            last = session.command(MtaStep.STARTTLS, "STARTTLS", ok=(220,))
            tls = session.starttls(tls_options)
            last = session.command(MtaStep.EHLO_AFTER_TLS, f"EHLO {helo}")
            extensions = _extensions(last)
        last = session.command(MtaStep.MAIL, f"MAIL FROM:<{mail_from}>")
        accepted = 0
        for recipient in recipients:
            session.step = MtaStep.RCPT
            session.send(f"RCPT TO:<{recipient}>\r\n".encode("utf-8", "surrogateescape"), f"RCPT TO:<{recipient}>")
            last = session.reply()
            rcpt_replies.append((recipient, last))
            accepted += last.code in (250, 251)
        if not accepted:
            raise _Refused(f"le MX a refusé tous les destinataires : {last}", last)
        last = session.command(MtaStep.DATA, "DATA", ok=(354,))
        session.step = MtaStep.MESSAGE
        payload = dot_stuff(message_bytes(message))
        session.send(payload, f"<message de {len(payload)} octets>")
        session.send(b"", ".")
        last = session.reply()
        if last.code // 100 != 2:
            raise _Refused(f"le MX a refusé le message : {last}", last)
        outcome, detail = MtaOutcome.DELIVERED, f"message accepté par le MX : {last}"
        try:  # QUIT is a courtesy: its fate does not change the outcome
            session.send(b"QUIT\r\n", "QUIT")
            session.reply()
        except (ProbeError, _Refused):
            pass
    except _Refused as refusal:
        outcome, detail = MtaOutcome.REFUSED, refusal.detail
        last = refusal.reply if refusal.reply is not None else last
        transcript.note(detail)
    except ProbeError as exc:
        if isinstance(exc, TlsAlert):
            transcript.note(f"alerte TLS : {exc}")
        outcome, detail = ending(exc, session.step, session.where, timeout)
        transcript.note(detail)
    finally:
        session.close()
    return MtaDelivery(
        outcome=outcome,
        step=session.step,
        reply=last if outcome in (MtaOutcome.DELIVERED, MtaOutcome.REFUSED) else None,
        detail=detail,
        tls=tls,
        starttls_offered=starttls_offered,
        extensions=extensions,
        rcpt_replies=tuple(rcpt_replies),
        transcript=tuple(transcript.lines()),
    )
