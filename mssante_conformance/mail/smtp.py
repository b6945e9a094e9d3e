"""SMTP submission probe: smtplib for the command layer, our own reply reader and TLS.

``smtplib.SMTP`` builds and sends the commands (EHLO parsing, ``docmd``, dot-quoting);
this module replaces its reply reader (so every read has a deadline and lands, redacted,
in the :class:`~.transcript.Transcript`) and does STARTTLS itself (to record TLS
parameters and allow an unverified retry). ``AUTH`` exchanges return a classified
:class:`~.classify.AuthAttempt`; faults raise the :mod:`.errors` types.
"""

from __future__ import annotations

import base64
import re
import smtplib
from dataclasses import dataclass, field

from .classify import AuthAttempt, ExchangeEnd, SmtpReply, classify_smtp_auth
from .connection import LineSocket, tcp_connect
from .endpoint import Endpoint
from .errors import (
    CheckDeadlineExceeded,
    ConnectionFailed,
    ConnectionLost,
    ProbeTimeout,
    ProtocolMismatch,
    StartTlsRefused,
)
from .sasl import OAUTHBEARER, OAUTHBEARER_ABORT, XOAUTH2, decode_error_challenge, oauthbearer_initial_response, xoauth2_initial_response
from .session import TlsSessionProbe
from .tls import TlsInfo
from .transcript import Transcript

MAX_CHALLENGES = 3
MAX_REPLY_LINES = 1000
_LINE_END = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class EhloResult:
    """``EHLO`` answer: ``features`` (upper-case keyword → parameters), ``auth_mechanisms``
    (upper-case), ``auth_advertised`` (the ``AUTH`` keyword is present, even bare)."""

    reply: SmtpReply
    features: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reply.code == 250

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.features

    @property
    def auth_advertised(self) -> bool:
        return "AUTH" in self.features

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        return frozenset(self.features.get("AUTH", "").upper().split())

    def to_dict(self) -> dict:
        return {"reply": self.reply.to_dict(), "features": dict(self.features)}


class _Session(smtplib.SMTP):
    """smtplib with our line reader and a recording ``send``."""

    def __init__(self, probe: "SmtpProbe") -> None:
        super().__init__(local_hostname=probe.ehlo_name, timeout=probe.timeout)
        self._probe = probe
        self._lines: LineSocket | None = None

    def _io(self) -> LineSocket:
        if self.sock is None:
            raise ConnectionLost(f"pas de connexion ouverte avec {self._probe.where}", step="command")
        if self._lines is None or self._lines.sock is not self.sock:
            self._lines = LineSocket(self.sock, self._probe.timeout, self._probe.where)
        return self._lines

    def send(self, s):  # noqa: D401 — smtplib's hook for everything sent
        data = s.encode("utf-8") if isinstance(s, str) else s
        for line in data.decode("utf-8", "replace").split("\r\n")[:-1] or [data.decode("utf-8", "replace")]:
            self._probe.transcript.client(line)
        self._io().send(data, self._probe.step)

    def getreply(self):
        io = self._io()
        lines: list[str] = []
        while True:
            line = self._probe.transcript.server(io.readline(self._probe.step))
            code, sep, text = line[:3], line[3:4], line[4:]
            if not (code.isdigit() and sep in ("-", " ", "")):
                return -1, line.encode("utf-8")
            lines.append(text)
            if len(lines) > MAX_REPLY_LINES:  # a server streaming a reply is stopped, not stored
                raise ProtocolMismatch(f"{self._probe.where} envoie une réponse de plus de {MAX_REPLY_LINES} lignes",
                                       step=self._probe.step)
            if sep != "-":
                return int(code), "\n".join(lines).encode("utf-8")

    def close(self) -> None:
        self._lines = None
        super().close()


def _reply(code: int, msg: bytes) -> SmtpReply:
    return SmtpReply(code, tuple(msg.decode("utf-8", "replace").split("\n")))


class SmtpProbe(TlsSessionProbe):
    """One SMTP submission session with the operator.

    >>> with SmtpProbe("smtp://127.0.0.2:1587", ca_file=ca) as p:
    ...     p.connect(); p.ehlo(); p.starttls(); p.ehlo()
    ...     attempt = p.authenticate_xoauth2(bal, token)
    """

    protocol = "smtp"

    def __init__(self, endpoint: Endpoint | str, transcript: Transcript | None = None, *,
                 ehlo_name: str = "conformite.mssante.test", **options) -> None:
        super().__init__(endpoint, transcript, **options)
        self.ehlo_name = ehlo_name
        self.greeting: SmtpReply | None = None
        self.step = "command"
        self._smtp: _Session | None = None

    def close(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _session(self) -> _Session:
        if self._smtp is None or self._smtp.sock is None:
            raise ConnectionLost(f"pas de connexion ouverte avec {self.where}", step=self.step)
        return self._smtp

    def _cmd(self, step: str, cmd: str, args: str = "") -> SmtpReply:
        self.step = step
        return _reply(*self._session().docmd(cmd, args))

    # -------------------------------------------------------------------- connection
    def _open(self, *, verify: bool, verify_error: str | None = None) -> SmtpReply:
        self.close()
        self.tls_info = None
        self.transcript.note(f"connexion à {self.endpoint}")
        sock = tcp_connect(self.endpoint, self.timeout)
        if self.endpoint.implicit_tls:
            sock = self._secure(sock, verify=verify, verify_error=verify_error)
        self._smtp = _Session(self)
        self._smtp.sock = sock
        self._smtp._host = self.endpoint.host
        self.step = "greeting"
        greeting = _reply(*self._smtp.getreply())
        if greeting.code == -1:
            self.close()
            raise ProtocolMismatch(f"{self.where} n'est pas un serveur SMTP : bannière « {greeting.text[:80]} »", step="greeting")
        if greeting.code != 220:
            self.close()
            raise ConnectionFailed(f"{self.where} refuse la session : {greeting.code} {greeting.text[:120]}", step="greeting")
        self.greeting = greeting
        return greeting

    def ehlo(self) -> EhloResult:
        self.step = "ehlo"
        session = self._session()
        code, msg = session.ehlo(self.ehlo_name)
        reply = _reply(code, msg)
        features: dict[str, str] = {}
        if code == 250:
            for line in reply.lines[1:]:
                keyword, _, params = line.partition(" ")
                features[keyword.upper()] = params.strip()
        return EhloResult(reply, features)

    def _after_reopen(self) -> None:
        self.ehlo()  # RFC 3207: STARTTLS comes after EHLO

    def _starttls(self, *, verify: bool, verify_error: str | None = None) -> TlsInfo:
        reply = self._cmd("starttls", "STARTTLS")
        if reply.code != 220:
            raise StartTlsRefused(f"{self.where} refuse STARTTLS : {reply.code} {reply.text}"[:200], answer=f"{reply.code} {reply.text}")
        session = self._session()
        session.sock = self._secure(session.sock, verify=verify, verify_error=verify_error)
        session.file = None
        session.helo_resp = session.ehlo_resp = None
        session.esmtp_features = {}
        session.does_esmtp = False
        return self.tls_info  # type: ignore[return-value]

    # -------------------------------------------------------------- authentication
    def authenticate_xoauth2(self, user: str, token: str, *, initial_response: bool = True, answer_challenge: bool = True) -> AuthAttempt:
        self.transcript.add_secret(token)
        return self.authenticate_raw(XOAUTH2, xoauth2_initial_response(user, token), initial_response=initial_response, answer_challenge=answer_challenge)

    def authenticate_oauthbearer(self, user: str, token: str, *, initial_response: bool = True) -> AuthAttempt:
        self.transcript.add_secret(token)
        payload = oauthbearer_initial_response(user, token, self.endpoint.host, self.endpoint.port)
        return self.authenticate_raw(OAUTHBEARER, payload, initial_response=initial_response, challenge_answer=OAUTHBEARER_ABORT)

    def authenticate_plain(self, user: str, password: str) -> AuthAttempt:
        """``AUTH PLAIN`` (to prove it is refused before TLS). The password is redacted."""
        self.transcript.add_secret(password)
        payload = base64.b64encode(f"\0{user}\0{password}".encode("utf-8")).decode("ascii")
        return self.authenticate_raw("PLAIN", payload)

    def authenticate_raw(
        self,
        mechanism: str,
        payload: str | None,
        *,
        initial_response: bool = True,
        answer_challenge: bool = True,
        challenge_answer: str = "",
    ) -> AuthAttempt:
        """``AUTH mechanism [payload]`` with ``payload`` verbatim; a ``334`` after it is the
        error challenge, answered with ``challenge_answer`` (empty line) or ``*`` (cancel)."""
        mark = self.transcript.mark()
        send_now = initial_response and payload is not None
        pending = None if send_now else payload
        challenge, answered, end, final = None, False, ExchangeEnd.REPLY, None
        try:
            final = self._cmd("authenticate", "AUTH", f"{mechanism} {payload}" if send_now else mechanism)
            for _ in range(MAX_CHALLENGES):
                if final.code != 334:
                    break
                if pending is not None:
                    final, pending = self._cmd("authenticate", pending), None
                    continue
                if challenge is None:
                    challenge = decode_error_challenge(final.text)
                answered = answered or answer_challenge
                final = self._cmd("authenticate", challenge_answer if answer_challenge else "*")
                if not answer_challenge and final.code == 334:
                    break  # RFC 4954: "*" cancels with 501; a server that asks again is not heard further
            if final is not None and final.code == 334:
                # Still asking after our answers (or our cancel): the exchange is abandoned and
                # the session, in an unknown state, closed; classified as a protocol violation.
                self.transcript.note("le serveur poursuit l'échange AUTH sans conclure : échange abandonné")
                self.close()
        except CheckDeadlineExceeded:
            self.close()
            raise  # the check ran out of time: not an answer of the server
        except ProbeTimeout:
            end, final = ExchangeEnd.TIMEOUT, None
            self.close()
        except ConnectionLost:
            end, final = ExchangeEnd.CLOSED, None
            self.close()
        return classify_smtp_auth(
            mechanism, final, end, challenge=challenge, answered_challenge=answered, exchange=self.transcript.lines_since(mark)
        )

    # --------------------------------------------------------------------- mail
    def mail_from(self, address: str, params: str = "") -> SmtpReply:
        return self._cmd("mail", "MAIL", f"FROM:<{address}>" + (f" {params}" if params else ""))

    def rcpt_to(self, address: str) -> SmtpReply:
        return self._cmd("rcpt", "RCPT", f"TO:<{address}>")

    def data(self, message: bytes) -> SmtpReply:
        """``DATA``, then the message (dot-stuffed) if the server said 354; the final reply."""
        reply = self._cmd("data", "DATA")
        if reply.code != 354:
            return reply
        session = self._session()
        body = _LINE_END.sub(b"\r\n", message)
        body = _LEADING_DOT.sub(b"..", body)  # dot-stuffing (RFC 5321 §4.5.2)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.transcript.client(f"<message de {len(message)} octets>")
        self.transcript.client(".")
        session._io().send(body + b".\r\n", "data")
        return _reply(*session.getreply())

    def rset(self) -> SmtpReply:
        return self._cmd("rset", "RSET")

    def noop(self) -> SmtpReply:
        return self._cmd("noop", "NOOP")

    def quit(self) -> SmtpReply | None:
        """``QUIT`` then close; ``None`` if the connection was already gone."""
        try:
            return self._cmd("quit", "QUIT")
        except CheckDeadlineExceeded:
            raise
        except (ConnectionLost, ProbeTimeout, ProtocolMismatch):
            return None
        finally:
            self.close()
