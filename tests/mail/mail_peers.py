"""Real peers on loopback for the probe tests: scripted socket servers and test TLS material.

The fake IMAP server speaks the lines Dovecot 2.3 speaks (greeting, LOGINDISABLED before
STARTTLS, NO [PRIVACYREQUIRED], the XOAUTH2 error challenge, NO [AUTHENTICATIONFAILED]).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mssante_conformance.mail.sasl import parse_xoauth2

BAL = "jean.dupont@op.test"
VALID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2YWxpZCJ9.c2lnbmF0dXJlLXZhbGlkZQ"
ERROR_JSON = {"status": "401", "schemes": "bearer", "scope": "mail"}
ERROR_CHALLENGE = base64.b64encode(json.dumps(ERROR_JSON).encode()).decode()

CAPS_PRE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED"
CAPS_TLS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER"
MESSAGE = b"From: a@op.test\r\nTo: b@op.test\r\nSubject: essai\r\nX-Test-Id: run-42\r\n\r\nBonjour.\r\n.ligne\r\n"


# ------------------------------------------------------------------------- TLS material
@dataclass(frozen=True)
class TlsMaterial:
    ca_file: str
    cert_file: str
    key_file: str
    foreign_ca_file: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_tls_material(directory: Path) -> TlsMaterial:
    ca_key, ca_cert = _ca("TEST AC MAIL PROBES")
    _, foreign = _ca("AUTRE AC")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (directory / "foreign-ca.pem").write_bytes(foreign.public_bytes(pem))
    (directory / "server.pem").write_bytes(cert.public_bytes(pem))
    (directory / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TlsMaterial(str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key"), str(directory / "foreign-ca.pem"))


def server_context(material: TlsMaterial, *, legacy: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material.cert_file, material.key_file)
    if legacy:  # a deliberately weak server: TLS 1.0 and every suite
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ------------------------------------------------------------------------ socket servers
class ScriptedServer:
    """A threaded TCP server on 127.0.0.1:<free port>; ``session(conn)`` runs per connection."""

    def __init__(self, session, *, tls: ssl.SSLContext | None = None) -> None:
        self._session = session
        self._tls = tls
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.received: list[str] = []  # client lines, in order (test memory only)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
                self._conns.append(conn)
            self._session(self, Peer(conn, self))
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass


class Peer:
    def __init__(self, conn: socket.socket, server: ScriptedServer) -> None:
        self.conn = conn
        self.server = server
        self.file = conn.makefile("rb")

    def say(self, *lines: str) -> None:
        self.conn.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def hear(self) -> str | None:
        raw = self.file.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.server.received.append(line)
        return line

    def starttls(self, context: ssl.SSLContext) -> None:
        self.conn = context.wrap_socket(self.conn, server_side=True)
        self.server._conns.append(self.conn)
        self.file = self.conn.makefile("rb")


def hang_session(server, peer: Peer) -> None:
    server._stop.wait(30)  # accept, then say nothing


def banner_session(banner: str):
    def session(server, peer: Peer) -> None:
        peer.say(banner)
        server._stop.wait(30)

    return session


def imap_session(context: ssl.SSLContext | None, *, implicit: bool = False):
    """Dovecot-like IMAP session (``implicit``: the connection is already TLS)."""

    def session(server, peer: Peer) -> None:
        secure = implicit
        authenticated = False
        caps = lambda: CAPS_TLS if secure else CAPS_PRE  # noqa: E731
        peer.say(f"* OK [CAPABILITY {caps()}] Dovecot ready.")
        while (line := peer.hear()) is not None:
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                peer.say(f"* CAPABILITY {caps()}", f"{tag} OK Pre-login capabilities listed, post-login capabilities have more.")
            elif command == "STARTTLS" and not secure and context is not None:
                peer.say(f"{tag} OK Begin TLS negotiation now.")
                peer.starttls(context)
                secure = True
            elif command in ("LOGIN", "AUTHENTICATE") and not secure:
                peer.say(f"{tag} NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
            elif command == "AUTHENTICATE":
                mechanism, _, initial = args.partition(" ")
                if mechanism.upper() != "XOAUTH2":
                    peer.say(f"{tag} NO Unsupported authentication mechanism.")
                    continue
                if not initial:
                    peer.say("+ ")
                    initial = peer.hear() or ""
                if initial == "*":
                    peer.say(f"{tag} BAD Authentication aborted by client.")
                    continue
                try:
                    base64.b64decode(initial, validate=True)
                except ValueError:
                    peer.say(f"{tag} BAD Invalid base64 data in initial response")
                    continue
                creds = parse_xoauth2(initial)
                if creds and creds.user == BAL and creds.token == VALID_TOKEN:
                    authenticated = True
                    peer.say(f"{tag} OK [CAPABILITY IMAP4rev1 SASL-IR IDLE] Logged in")
                    continue
                peer.say(f"+ {ERROR_CHALLENGE}")
                answer = peer.hear()
                if answer == "*":
                    peer.say(f"{tag} BAD Authentication aborted by client.")
                else:
                    peer.say(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
            elif command == "SELECT" and authenticated:
                peer.say("* FLAGS (\\Answered \\Seen)", "* 1 EXISTS", "* 0 RECENT", f"{tag} OK [READ-WRITE] Select completed (0.001 + 0.000 secs).")
            elif command == "UID" and authenticated and args.upper().startswith("SEARCH"):
                found = "7" if "run-42" in args else ""
                peer.say(f"* SEARCH {found}".rstrip(), f"{tag} OK Search completed (0.001 + 0.000 secs).")
            elif command == "UID" and authenticated and args.upper().startswith("FETCH 7 "):
                peer.conn.sendall(f"* 1 FETCH (UID 7 BODY[] {{{len(MESSAGE)}}}\r\n".encode() + MESSAGE + b")\r\n")
                peer.say(f"{tag} OK Fetch completed (0.001 + 0.000 secs).")
            elif command == "NOOP":
                peer.say(f"{tag} OK NOOP completed.")
            elif command == "LOGOUT":
                peer.say("* BYE Logging out", f"{tag} OK Logout completed.")
                return
            else:
                peer.say(f"{tag} BAD Error in IMAP command received by server.")

    return session


def closed_port() -> int:
    """A loopback port with nobody listening (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class XOAuth2Handler:
    """aiosmtpd handler: XOAUTH2 with the 334-challenge failure convention; keeps mail."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def auth_XOAUTH2(self, server, args):
        initial = args[1] if len(args) > 1 else None
        if initial is None:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            initial = base64.b64encode(answer).decode()
        try:
            base64.b64decode(initial, validate=True)
        except ValueError:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Invalid base64 data")
        creds = parse_xoauth2(initial)
        if creds and creds.user == BAL and creds.token == VALID_TOKEN:
            return AuthResult(success=True, auth_data=creds.user)
        answer = await server.challenge_auth(json.dumps(ERROR_JSON))
        if not isinstance(answer, bytes):  # '*' or bad base64: aiosmtpd already answered 501
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
