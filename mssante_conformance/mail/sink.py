"""The harness's MX sink: a trust-space MX that operators' MTAs deliver to (OPI-OUT-*).

::

    from mssante_conformance.mail.sink import MxSink
    with MxSink("127.0.0.1", 0, domain="harnais.mssante.test", cert_file=pki.harness_sink.cert,
                key_file=pki.harness_sink.key, ca_file=pki.ca_file, maildir=tmp / "sink") as sink:
        host, port = sink.address
        msg = sink.wait_for(lambda m: "OPI-OUT-01" in m.subject, timeout=60)   # or None
        msg.tls.version, msg.tls.client_certificate.chains_to_ca
        sink.connections()   # every session, including those that never sent mail

Policy (the defaults behave like an MSSanté MX, see REFERENCE-OPERATOR.md):

- BALs: every local part at ``domain`` (case-insensitive) unless ``mailboxes`` lists the
  accepted addresses; another domain → ``554 5.7.1`` (no relaying), an unknown BAL → ``550 5.1.1``.
- ``require_starttls=True``: any command but EHLO/HELO/NOOP/QUIT/STARTTLS before STARTTLS →
  ``530 Must issue a STARTTLS command first``.
- ``require_trusted_client_cert=False``: when True, a session whose client certificate is
  absent, does not chain to ``ca_file`` or is out of its validity gets ``554`` on every
  command after STARTTLS (the certificate is still recorded).
- Bounds: ``data_size_limit`` (552), 1000-octet lines (500), ``max_recipients`` (452), command
  lines of 512 octets (500), ``session_timeout`` of inactivity; garbage gets 500 and the
  session goes on; nothing a client sends stops the sink.
- Caps on the whole sink (it may be reachable from the Internet): ``max_connections`` open at
  once (more get ``421`` and are closed), ``max_messages`` stored and ``max_stored_bytes`` of
  message data (past either, DATA gets ``452 4.3.1``: a temporary failure, the MTA keeps it).

Each message is committed durably (see :mod:`.sink_store`) before the 250 answer.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from aiosmtpd.smtp import SMTP, TLSSetupException

from .sink_store import DeliveredMessage, Maildir
from .sink_tls import PeerCertificate, TlsFacts, server_context, tls_facts

__all__ = ["MxSink", "SinkConnection", "DeliveredMessage", "TlsFacts", "PeerCertificate"]



@dataclass(frozen=True)
class SinkConnection:
    """One SMTP session on the sink.

    ``commands``: the verbs received, in order (arguments are not kept); ``tls``: facts after
    a successful STARTTLS; ``tls_error``: why the handshake failed; ``delivered``: messages
    accepted in this session.
    """

    id: int
    peer: str
    opened_at: datetime
    closed_at: datetime | None = None
    helo: str | None = None
    starttls: bool = False
    tls: TlsFacts | None = None
    tls_error: str | None = None
    commands: tuple[str, ...] = ()
    delivered: int = 0

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "peer": self.peer,
            "opened_at": self.opened_at.isoformat(timespec="milliseconds"),
            "closed_at": self.closed_at.isoformat(timespec="milliseconds") if self.closed_at else None,
            "helo": self.helo,
            "starttls": self.starttls,
            "tls": self.tls.to_dict() if self.tls else None,
            "tls_error": self.tls_error,
            "commands": list(self.commands),
            "delivered": self.delivered,
        }


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower()


class _SinkSession(SMTP):
    """aiosmtpd's SMTP with connection bookkeeping (one instance per TCP connection)."""

    line_length_limit = 1001  # RFC 5321 4.5.3.1.6: 1000 octets with CRLF (+1 for the reader)

    def __init__(self, sink: "MxSink", **kwargs) -> None:
        super().__init__(sink._handler, **kwargs)
        self.sink = sink
        self.connection_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # a new TCP connection (not the switch to TLS)
            peer = transport.get_extra_info("peername")
            self.connection_id = self.sink._open_connection(f"{peer[0]}:{peer[1]}" if peer else "?", self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.sink._update(self.connection_id, closed_at=_now())
        self.sink._live.discard(self)
        super().connection_lost(error)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if not arg and self.tls_context and not self._tls_protocol:
            self.sink._update(self.connection_id, starttls=True)
        elif self._tls_protocol:
            await self.push("503 5.5.1 TLS already active")  # RFC 3207: no second STARTTLS
            return
        try:
            await super().smtp_STARTTLS(arg)
        except TLSSetupException as exc:
            cause = exc.__cause__
            reason = getattr(cause, "reason", None) or str(cause) or type(cause).__name__
            self.sink._update(self.connection_id, tls_error=reason)
            # what aiosmtpd does itself, minus logging a traceback for a client's failed handshake
            if self.transport is not None:
                self.transport.close()
            self.connection_lost(exc)

    async def _handle_client(self) -> None:
        try:
            await super()._handle_client()
        except Exception:  # noqa: BLE001 — a client must never take the sink down
            if self.transport is not None:
                self.transport.close()


class _Busy(asyncio.Protocol):
    """What a connection beyond ``max_connections`` gets: a 421 greeting, then the door."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"421 4.7.0 Too many connections, try again later\r\n")  # type: ignore[attr-defined]
        transport.close()


class _SinkHandler:
    """aiosmtpd hooks: recipients policy, TLS facts, durable delivery."""

    def __init__(self, sink: "MxSink") -> None:
        self.sink = sink

    def _record_command(self, server: _SinkSession, verb: str) -> None:
        record = self.sink._conns.get(server.connection_id)
        if record is not None and len(record.commands) < 200:
            self.sink._update(server.connection_id, commands=record.commands + (verb,))

    def handle_STARTTLS(self, server: _SinkSession, session, envelope) -> bool:
        facts = tls_facts(session.ssl["ssl_object"], self.sink._tls.anchors)
        self.sink._update(server.connection_id, tls=facts)
        return facts.client_certificate_trusted or not self.sink.require_trusted_client_cert

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self._record_command(server, "EHLO")
        session.host_name = hostname  # aiosmtpd leaves this to the hook when there is one
        self.sink._update(server.connection_id, helo=hostname)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self._record_command(server, "HELO")
        session.host_name = hostname
        self.sink._update(server.connection_id, helo=hostname)
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self._record_command(server, "MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self._record_command(server, "RCPT")
        sink = self.sink
        if len(envelope.rcpt_tos) >= sink.max_recipients:
            return "452 4.5.3 Too many recipients"
        if _domain_of(address) != sink.domain:
            return "554 5.7.1 Relay access denied"
        if sink.mailboxes is not None and address.strip().lower() not in sink.mailboxes:
            return "550 5.1.1 Mailbox unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _SinkSession, session, envelope) -> str:
        self._record_command(server, "DATA")
        record = self.sink._conns[server.connection_id]
        if not self.sink._has_room(len(envelope.original_content or b"")):
            return "452 4.3.1 Insufficient system storage"
        try:
            delivered = await asyncio.to_thread(
                self.sink._store.deliver,
                envelope.original_content or b"",
                envelope_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                tls=record.tls if server._tls_protocol else None,
                received_at=_now(),
                connection_id=record.id,
                helo=record.helo,
                peer=record.peer,
            )
        except OSError:
            return "451 4.3.0 Local storage error"
        self.sink._delivered(record.id, delivered)
        return f"250 2.0.0 OK queued as {delivered.path.name}"


class MxSink:
    """The harness's MX for the trust-space test domain; runs in a thread of its own."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        domain: str,
        cert_file: str | Path,
        key_file: str | Path,
        ca_file: str | Path,
        maildir: str | Path,
        mailboxes: Iterable[str] | None = None,
        hostname: str | None = None,
        require_starttls: bool = True,
        require_trusted_client_cert: bool = False,
        min_tls_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        data_size_limit: int = 10 * 1024 * 1024,
        max_recipients: int = 50,
        session_timeout: float = 60.0,
        max_connections: int = 64,
        max_messages: int = 10_000,
        max_stored_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self.host, self.port = host, port
        self.domain = domain.strip().rstrip(".").lower()
        self.mailboxes = None if mailboxes is None else frozenset(m.strip().lower() for m in mailboxes)
        self.hostname = hostname or f"mx.{self.domain}"
        self.require_starttls = require_starttls
        self.require_trusted_client_cert = require_trusted_client_cert
        self.data_size_limit = data_size_limit
        self.max_recipients = max_recipients
        self.session_timeout = session_timeout
        self.max_connections = max_connections
        self.max_messages = max_messages
        self.max_stored_bytes = max_stored_bytes
        self.refused_connections = 0
        self._tls = server_context(cert_file, key_file, ca_file, min_version=min_tls_version)
        self._store = Maildir(maildir)
        self._handler = _SinkHandler(self)
        self._lock = threading.Condition()
        self._conns: dict[int, SinkConnection] = {}
        self._ids = itertools.count(1)
        self._live: set[_SinkSession] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] | None = None

    @property
    def maildir(self) -> Path:
        return self._store.root

    @property
    def accepts_any_client_certificate(self) -> bool:
        """False if untrusted client certificates make the handshake fail (see sink_tls)."""
        return self._tls.accepts_any_client_certificate

    # -- lifecycle --------------------------------------------------------------------------
    def _session(self) -> asyncio.Protocol:
        if len(self._live) >= self.max_connections:  # called on the sink's loop, like _live's updates
            self.refused_connections += 1
            return _Busy()
        session = _SinkSession(
            self,
            hostname=self.hostname,
            ident="MSSante conformance harness MX sink",
            tls_context=self._tls.context,
            require_starttls=self.require_starttls,
            data_size_limit=self.data_size_limit,
            timeout=self.session_timeout,
            decode_data=False,
        )
        # Counted from now, not from connection_made: a burst of accepts creates every protocol
        # before the first connection_made runs.
        self._live.add(session)
        return session

    def start(self) -> "MxSink":
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            # aborted handshakes and dropped clients are recorded per connection, not logged
            loop.set_exception_handler(lambda _loop, _context: None)
            self._loop = loop
            try:
                self._server = loop.run_until_complete(loop.create_server(self._session, self.host, self.port))
                self.address = self._server.sockets[0].getsockname()[:2]
            except BaseException as exc:  # noqa: BLE001 — reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="mx-sink", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise OSError(f"le puits MX ne peut pas écouter sur {self.host}:{self.port} : {failure[0]}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for session in list(self._live):
                if session.transport is not None:
                    session.transport.close()
                if session._original_transport is not None:
                    session._original_transport.close()
            await asyncio.sleep(0)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        except Exception:  # noqa: BLE001 — stopping must not fail
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._thread = self._loop = None

    def __enter__(self) -> "MxSink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- bookkeeping (called from the sink's thread) ------------------------------------------
    def _open_connection(self, peer: str, session: _SinkSession) -> int:
        with self._lock:
            cid = next(self._ids)
            self._conns[cid] = SinkConnection(id=cid, peer=peer, opened_at=_now())
            self._live.add(session)
            self._lock.notify_all()
            return cid

    def _update(self, cid: int, **changes) -> None:
        with self._lock:
            if cid in self._conns:
                self._conns[cid] = replace(self._conns[cid], **changes)
                self._lock.notify_all()

    def _delivered(self, cid: int, message: DeliveredMessage) -> None:
        with self._lock:
            self._conns[cid] = replace(self._conns[cid], delivered=self._conns[cid].delivered + 1)
            self._lock.notify_all()

    def _has_room(self, size: int) -> bool:
        store = self._store
        return store.count < self.max_messages and store.stored_bytes + size <= self.max_stored_bytes

    # -- reading ------------------------------------------------------------------------------
    def connections(self) -> list[SinkConnection]:
        with self._lock:
            return [self._conns[k] for k in sorted(self._conns)]

    def messages(self) -> list[DeliveredMessage]:
        """Every message committed to the maildir (from its index), oldest first."""
        return self._store.messages()

    def wait_for(
        self, predicate: Callable[[DeliveredMessage], bool], timeout: float
    ) -> DeliveredMessage | None:
        """First delivered message matching ``predicate``, waiting at most ``timeout`` s.
        Each message is judged once: a wake-up looks only at what arrived since the last."""
        deadline = time.monotonic() + max(0.0, timeout)
        seen = 0
        while True:
            fresh = self._store.messages(seen)
            seen += len(fresh)
            for message in fresh:
                if predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with self._lock:
                self._lock.wait(min(remaining, 0.5))

    def wait_for_connection(
        self, predicate: Callable[[SinkConnection], bool], timeout: float
    ) -> SinkConnection | None:
        """First connection matching ``predicate`` (e.g. closed, with TLS facts), bounded wait."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while True:
                for conn in (self._conns[k] for k in sorted(self._conns)):
                    if predicate(conn):
                        return conn
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._lock.wait(min(remaining, 0.5))
