"""Hostile IMAP/SMTP peers on loopback: real asyncio servers that misbehave on purpose.

Each behaviour is what a broken or malicious operator server can do to a client that trusts
per-read timeouts alone:

* ``mute``: accepts TCP, never says a word (reads and discards what it gets).
* ``endless_continuation``: a plausible IMAP/SMTP server (implicit TLS) that answers
  ``AUTHENTICATE``/``AUTH`` with continuation requests (``+``/``334``) for ever, even after
  the client cancels with ``*``.
* ``drip``: the greeting dripped one byte every ``drip_interval`` seconds, for ever.
* ``endless_line``: a greeting that never ends (bytes without CRLF, without pause).
* ``garbage``: binary garbage as the greeting and as the answer to anything.

``HostilePeers`` runs one asyncio loop in a daemon thread; ``start(behaviour, protocol)``
returns the port of a new listener on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BEHAVIOURS = ("mute", "endless_continuation", "drip", "endless_line", "garbage")

IMAP_GREETING = b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] hostile ready\r\n"
IMAP_CAPS = b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n"
SMTP_GREETING = b"220 hostile.test ESMTP hostile ready\r\n"
SMTP_EHLO = b"250-hostile.test\r\n250-AUTH XOAUTH2 OAUTHBEARER PLAIN\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n"


def write_tls_material(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 it signed: (ca, cert, key)."""
    now = dt.datetime.now(dt.timezone.utc)

    def build(subject, issuer, public_key, signing_key, *, ca: bool):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        else:
            builder = (
                builder.add_extension(
                    x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                               critical=False)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                               critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AC hostile de test")])
    ca = build(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name,
                 key.public_key(), ca_key, ca=False)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "hostile.pem", directory / "hostile.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class HostilePeers:
    """Hostile listeners on 127.0.0.1, served by one asyncio loop in a thread."""

    def __init__(self, *, drip_interval: float = 1.0, tls: tuple[Path, Path, Path] | None = None) -> None:
        self.drip_interval = drip_interval
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="hostile-peers", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.AbstractServer] = []
        self.connections: dict[int, int] = {}  # port → connections accepted
        self._tls = None
        if tls is not None:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(str(tls[1]), str(tls[2]))

    def start(self, behaviour: str, protocol: str, *, tls: bool = False) -> int:
        """Listen for ``behaviour`` speaking ``protocol`` (``imap``/``smtp``); the port."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(behaviour)
        handler = getattr(self, f"_{behaviour}")

        async def serve(reader, writer):
            port = writer.get_extra_info("sockname")[1]
            self.connections[port] = self.connections.get(port, 0) + 1
            try:
                await handler(protocol, reader, writer)
            except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                writer.close()

        async def listen():
            server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self._tls if tls else None,
                                                ssl_handshake_timeout=5 if tls else None)
            self._servers.append(server)
            return server.sockets[0].getsockname()[1]

        return asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)

    def close(self) -> None:
        async def stop():
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    # ---------------------------------------------------------------- behaviours
    @staticmethod
    async def _mute(protocol, reader, writer):
        while await reader.read(4096):
            pass

    async def _drip(self, protocol, reader, writer):
        greeting = IMAP_GREETING if protocol == "imap" else SMTP_GREETING
        while True:  # the same greeting again and again, never finished in time
            for byte in greeting[:-2]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(self.drip_interval)

    @staticmethod
    async def _endless_line(protocol, reader, writer):
        writer.write(b"* OK " if protocol == "imap" else b"220 ")
        chunk = b"A" * 16384
        while True:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.005)

    @staticmethod
    async def _garbage(protocol, reader, writer):
        writer.write(os.urandom(512) + b"\r\n")
        await writer.drain()
        while await reader.read(4096):
            writer.write(os.urandom(256) + b"\r\n")
            await writer.drain()

    @staticmethod
    async def _endless_continuation(protocol, reader, writer):
        if protocol == "imap":
            await _imap_endless_continuation(reader, writer)
        else:
            await _smtp_endless_continuation(reader, writer)


async def _imap_endless_continuation(reader, writer):
    writer.write(IMAP_GREETING)
    await writer.drain()
    authenticating = False
    while line := await reader.readline():
        if authenticating:  # whatever the client says (payload, empty line, "*"): ask again
            writer.write(b"+ \r\n")
            await writer.drain()
            continue
        tag, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
        command = rest.split(" ", 1)[0].upper()
        if command == "CAPABILITY":
            writer.write(IMAP_CAPS + f"{tag} OK CAPABILITY completed\r\n".encode())
        elif command == "AUTHENTICATE":
            authenticating = True
            writer.write(b"+ \r\n")
        elif command == "LOGOUT":
            writer.write(f"* BYE bye\r\n{tag} OK LOGOUT completed\r\n".encode())
            await writer.drain()
            return
        else:
            writer.write(f"{tag} NO not here\r\n".encode())
        await writer.drain()


async def _smtp_endless_continuation(reader, writer):
    writer.write(SMTP_GREETING)
    await writer.drain()
    authenticating = False
    while line := await reader.readline():
        if authenticating:
            writer.write(b"334 \r\n")
            await writer.drain()
            continue
        verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            writer.write(SMTP_EHLO)
        elif verb == "AUTH":
            authenticating = True
            writer.write(b"334 \r\n")
        elif verb == "QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
