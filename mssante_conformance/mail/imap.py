"""IMAP probe: a thin raw-socket driver around :mod:`.classify`.

Raw commands rather than a full client library because the checks need exact control of
the wire: SASL-IR with the initial response on the ``AUTHENTICATE`` line, answering the
error challenge with an empty line, malformed payloads, ``LOGIN`` before STARTTLS. Every
line goes through the :class:`~.transcript.Transcript` (redacted on entry); every read is
bounded by ``timeout``. Faults raise the :mod:`.errors` types; authentication exchanges
never raise for what the *server* did — they return a classified :class:`AuthAttempt`.
"""

from __future__ import annotations

import re

from .classify import (
    AuthAttempt,
    ExchangeEnd,
    ImapResult,
    capabilities_from,
    classify_imap_auth,
    is_imap_greeting,
    parse_imap_line,
)
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

_LITERAL = re.compile(r"\{(\d+)\}$")
MAX_CONTINUATIONS = 3
MAX_LITERAL = 128 * 1024 * 1024
MAX_UNTAGGED = 10_000  # a server streaming untagged lines is stopped, not stored


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapProbe(TlsSessionProbe):
    """One IMAP session with the operator.

    >>> with ImapProbe("imap://127.0.0.2:1143", ca_file=ca) as p:
    ...     p.connect(); p.starttls()
    ...     attempt = p.authenticate_xoauth2(bal, token)
    """

    protocol = "imap"

    def __init__(self, endpoint: Endpoint | str, transcript: Transcript | None = None, **options) -> None:
        super().__init__(endpoint, transcript, **options)
        self.greeting: str = ""
        self._io: LineSocket | None = None
        self._tag = 0
        self._capabilities: frozenset[str] = frozenset()

    # -------------------------------------------------------------- context management
    def close(self) -> None:
        if self._io is not None:
            self._io.close()
            self._io = None

    # -------------------------------------------------------------------- connection
    def _open(self, *, verify: bool, verify_error: str | None = None) -> str:
        self.close()
        self.tls_info = None
        self.transcript.note(f"connexion à {self.endpoint}")
        sock = tcp_connect(self.endpoint, self.timeout)
        if self.endpoint.implicit_tls:
            sock = self._secure(sock, verify=verify, verify_error=verify_error)
        self._io = LineSocket(sock, self.timeout, self.where)
        line = self._readline("greeting")
        if not is_imap_greeting(line):
            self.close()
            raise ProtocolMismatch(f"{self.where} n'est pas un serveur IMAP : bannière « {line[:80]} »", step="greeting")
        parsed = parse_imap_line(line)
        if parsed.status == "BYE":
            self.close()
            raise ConnectionFailed(f"{self.where} refuse la session : {parsed.text[:120]}", step="greeting")
        self.greeting = line
        self._capabilities = capabilities_from([line])
        return line

    def _starttls(self, *, verify: bool, verify_error: str | None = None) -> TlsInfo:
        result = self.command("STARTTLS", step="starttls")
        if not result.ok:
            raise StartTlsRefused(
                f"{self.where} refuse STARTTLS : {result.status} {result.text}"[:200], answer=f"{result.status} {result.text}"
            )
        io = self._require()
        io.replace_socket(self._secure(io.sock, verify=verify, verify_error=verify_error))
        self._capabilities = frozenset()
        return self.tls_info  # type: ignore[return-value]

    # ---------------------------------------------------------------------- raw I/O
    def _require(self) -> LineSocket:
        if self._io is None or self._io.closed:
            raise ConnectionLost(f"pas de connexion ouverte avec {self.where}", step="command")
        return self._io

    def _readline(self, step: str) -> str:
        io = self._require()
        raw = io.readline(step)
        return self.transcript.server(raw)

    def _send(self, line: str, step: str) -> None:
        self.transcript.client(line)
        self._require().send(line.encode("utf-8") + b"\r\n", step)

    def _next_tag(self) -> str:
        self._tag += 1
        return f"A{self._tag:03d}"

    def _read_until_tagged(self, tag: str, step: str) -> tuple[list[str], list[bytes], str]:
        """Untagged lines (literals shown as sizes), literal contents, tagged line."""
        untagged: list[str] = []
        literals: list[bytes] = []
        io = self._require()
        while True:
            raw = io.readline(step)
            shown = raw
            while (match := _LITERAL.search(raw)) is not None:
                if int(match.group(1)) > MAX_LITERAL:  # never buffer what a hostile server announces
                    raise ProtocolMismatch(f"{self.where} annonce un littéral de {match.group(1)} octets", step=step)
                data = io.read_exactly(int(match.group(1)), step)
                literals.append(data)
                rest = io.readline(step)
                shown += f" <{len(data)} octets>" + rest
                raw = rest
            line = self.transcript.server(shown)
            parsed = parse_imap_line(line)
            if parsed.kind == "tagged" and parsed.tag == tag:
                return untagged, literals, line
            if parsed.kind == "garbage":
                raise ProtocolMismatch(f"réponse IMAP illisible de {self.where} : « {line[:80]} »", step=step)
            if parsed.status == "BYE":
                io.close()
                raise ConnectionLost(f"{self.where} a fermé la session : {parsed.text[:120]}", step=step)
            untagged.append(line)
            if len(untagged) > MAX_UNTAGGED:
                raise ProtocolMismatch(f"{self.where} envoie plus de {MAX_UNTAGGED} réponses non étiquetées", step=step)

    def command(self, text: str, *, step: str = "command") -> ImapResult:
        """Send ``<tag> text`` and wait for its completion (any command, verbatim)."""
        tag = self._next_tag()
        self._send(f"{tag} {text}", step)
        untagged, _, line = self._read_until_tagged(tag, step)
        parsed = parse_imap_line(line)
        return ImapResult(text.split(" ", 1)[0].upper(), parsed.status, parsed.code, parsed.text, tuple(untagged))

    # ------------------------------------------------------------------ capabilities
    def capabilities(self) -> frozenset[str]:
        """Ask ``CAPABILITY`` (upper-case names: ``STARTTLS``, ``SASL-IR``, ``AUTH=XOAUTH2``…)."""
        result = self.command("CAPABILITY")
        self._capabilities = capabilities_from(result.untagged)
        return self._capabilities

    # -------------------------------------------------------------- authentication
    def authenticate_xoauth2(self, user: str, token: str, *, initial_response: bool = True, answer_challenge: bool = True) -> AuthAttempt:
        """XOAUTH2 with the PSC token; SASL-IR (one line) unless ``initial_response=False``."""
        self.transcript.add_secret(token)
        return self.authenticate_raw(XOAUTH2, xoauth2_initial_response(user, token), initial_response=initial_response, answer_challenge=answer_challenge)

    def authenticate_oauthbearer(self, user: str, token: str, *, initial_response: bool = True) -> AuthAttempt:
        self.transcript.add_secret(token)
        payload = oauthbearer_initial_response(user, token, self.endpoint.host, self.endpoint.port)
        return self.authenticate_raw(OAUTHBEARER, payload, initial_response=initial_response, challenge_answer=OAUTHBEARER_ABORT)

    def authenticate_raw(
        self,
        mechanism: str,
        payload: str | None,
        *,
        initial_response: bool = True,
        answer_challenge: bool = True,
        challenge_answer: str = "",
    ) -> AuthAttempt:
        """``AUTHENTICATE mechanism [payload]`` with ``payload`` sent verbatim (may be malformed).

        A continuation after the payload is decoded as the error challenge and answered with
        ``challenge_answer`` (empty line by default), or ``*`` (cancel) if
        ``answer_challenge=False``. Never raises for what the server answers.
        """
        tag = self._next_tag()
        mark = self.transcript.mark()
        pending = payload if not (initial_response and payload is not None) else None
        first = f"{tag} AUTHENTICATE {mechanism}" + (f" {payload}" if pending is None and payload is not None else "")
        server_lines: list[str] = []
        challenge = None
        answered = False
        cancelled = False
        end = ExchangeEnd.REPLY
        try:
            self._send(first, "authenticate")
            continuations = 0
            while True:
                line = self._readline("authenticate")
                server_lines.append(line)
                parsed = parse_imap_line(line)
                if parsed.kind == "continuation":
                    continuations += 1
                    if pending is not None:  # the server's prompt for the initial response
                        self._send(pending, "authenticate")
                        pending = None
                    elif cancelled:
                        # RFC 3501 6.2.2: after "*" the server must end the command with BAD.
                        # One that keeps asking would hold the check for ever: give up.
                        self.transcript.note("le serveur poursuit l'échange après l'annulation (*) : échange abandonné")
                        self.close()
                        break
                    elif continuations > MAX_CONTINUATIONS:
                        self._send("*", "authenticate")
                        cancelled = True
                    else:
                        if challenge is None:
                            challenge = decode_error_challenge(parsed.text)
                        self._send(challenge_answer if answer_challenge else "*", "authenticate")
                        answered = answered or answer_challenge
                        cancelled = not answer_challenge
                    continue
                if parsed.kind in ("tagged", "garbage") or parsed.status == "BYE":
                    break
        except CheckDeadlineExceeded:
            self.close()
            raise  # the check ran out of time: not an answer of the server
        except ProbeTimeout:
            end = ExchangeEnd.TIMEOUT
            self.close()
        except ConnectionLost:
            end = ExchangeEnd.CLOSED
            self.close()
        except ProtocolMismatch:
            self.close()
        attempt = classify_imap_auth(
            mechanism, tag, server_lines, end, challenge=challenge, answered_challenge=answered,
            exchange=self.transcript.lines_since(mark),
        )
        if attempt.status == "BYE":
            self.close()
        return attempt

    def login_plaintext(self, user: str, password: str) -> ImapResult:
        """``LOGIN user password`` (to prove it is refused before TLS). The password is redacted."""
        self.transcript.add_secret(password)
        return self.command(f"LOGIN {_quote(user)} {_quote(password)}", step="login")

    # ----------------------------------------------------------------- mailbox use
    def select(self, mailbox: str = "INBOX") -> ImapResult:
        return self.command(f"SELECT {_quote(mailbox)}")

    def noop(self) -> ImapResult:
        return self.command("NOOP")

    def search_header(self, name: str, value: str) -> tuple[int, ...]:
        """UIDs of messages whose header ``name`` contains ``value`` (``UID SEARCH HEADER``)."""
        result = self.command(f"UID SEARCH HEADER {_quote(name)} {_quote(value)}")
        if not result.ok:
            return ()
        uids: list[int] = []
        for line in result.untagged:
            words = line.split()
            if len(words) >= 2 and words[1].upper() == "SEARCH":
                uids.extend(int(w) for w in words[2:] if w.isdigit())
        return tuple(uids)

    def fetch_message(self, uid: int) -> bytes | None:
        """The full message of ``uid`` (``UID FETCH uid BODY.PEEK[]``), ``None`` if absent."""
        tag = self._next_tag()
        self._send(f"{tag} UID FETCH {int(uid)} BODY.PEEK[]", "fetch")
        _, literals, line = self._read_until_tagged(tag, "fetch")
        if parse_imap_line(line).status != "OK" or not literals:
            return None
        return literals[0]

    def logout(self) -> ImapResult | None:
        """``LOGOUT`` then close; ``None`` if the connection was already gone."""
        if self._io is None or self._io.closed:
            return None
        try:
            tag = self._next_tag()
            self._send(f"{tag} LOGOUT", "logout")
            untagged: list[str] = []
            while True:
                line = self._readline("logout")
                parsed = parse_imap_line(line)
                if parsed.kind == "tagged" and parsed.tag == tag:
                    return ImapResult("LOGOUT", parsed.status, parsed.code, parsed.text, tuple(untagged))
                untagged.append(line)
        except CheckDeadlineExceeded:
            raise
        except (ConnectionLost, ProbeTimeout, ProtocolMismatch):
            return None
        finally:
            self.close()
