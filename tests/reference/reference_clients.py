"""Plain imaplib/smtplib/ssl clients for the reference operator's own tests.

Deliberately not the harness's probes: these tests prove the reference behaves, with the
standard library only, so a bug in the probes cannot hide a bug in the reference.
"""

from __future__ import annotations

import base64
import imaplib
import smtplib
import socket
import ssl
import time
import warnings

TIMEOUT = 10


def tls_context(ca_file, cert=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    return context


def tls10_context() -> ssl.SSLContext:
    """A client that speaks only TLS 1.0 (needs SECLEVEL=0 on OpenSSL 3)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
    return context


def xoauth2(bal: str, token: str) -> bytes:
    return f"user={bal}\x01auth=Bearer {token}\x01\x01".encode()


def host_port(op, name: str) -> tuple[str, int]:
    hostport = op.endpoints[name].split("://", 1)[1]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def imap_connect(op, *, implicit=False, starttls=True, context=None) -> imaplib.IMAP4:
    context = context or tls_context(op.ca_file)
    if implicit:
        return imaplib.IMAP4_SSL(*host_port(op, "imaps"), ssl_context=context, timeout=TIMEOUT)
    client = imaplib.IMAP4(*host_port(op, "imap"), timeout=TIMEOUT)
    if starttls:
        client.starttls(ssl_context=context)
    return client


def imap_xoauth2(op, bal: str, token: str, **connect) -> tuple[str, str]:
    """("OK", …) when the server let the client in and INBOX could be selected, else ("NO", text)."""
    client = imap_connect(op, **connect)
    try:
        client.authenticate("XOAUTH2", lambda _challenge: xoauth2(bal, token))
        typ, _ = client.select("INBOX")
        return typ, ""
    except imaplib.IMAP4.error as exc:
        return "NO", str(exc)
    finally:
        _close(client)


def imap_external(op, cert) -> tuple[str, str]:
    client = imap_connect(op, context=tls_context(op.ca_file, cert))
    try:
        typ, _ = client.authenticate("EXTERNAL", lambda _challenge: b"")
        return typ, ""
    except imaplib.IMAP4.error as exc:
        return "NO", str(exc)
    finally:
        _close(client)


def imap_messages(op, bal: str, token: str, **connect) -> list[bytes]:
    client = imap_connect(op, **connect)
    try:
        client.authenticate("XOAUTH2", lambda _challenge: xoauth2(bal, token))
        client.select("INBOX")
        _, data = client.search(None, "ALL")
        messages = []
        for number in data[0].split():
            _, parts = client.fetch(number, "(RFC822)")
            messages.append(parts[0][1])
        return messages
    finally:
        _close(client)


def wait_for_message(op, bouchon_mint, bal: str, needle: bytes, timeout: float = 15) -> bytes | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in imap_messages(op, bal, bouchon_mint()):
            if needle in message:
                return message
        time.sleep(0.2)
    return None


def smtp_submission(op, *, implicit=False, starttls=True) -> smtplib.SMTP:
    context = tls_context(op.ca_file)
    if implicit:
        client = smtplib.SMTP_SSL(*host_port(op, "smtps"), context=context, timeout=TIMEOUT)
    else:
        client = smtplib.SMTP(*host_port(op, "smtp"), timeout=TIMEOUT)
        if starttls:
            client.starttls(context=context)
    client.ehlo("lps.test")
    return client


def smtp_xoauth2(client: smtplib.SMTP, bal: str, token: str) -> tuple[int, bytes]:
    code, message = client.docmd("AUTH", "XOAUTH2 " + base64.b64encode(xoauth2(bal, token)).decode())
    if code == 334:  # XOAUTH2 error challenge: answer with an empty line, then the final reply
        code, message = client.docmd("")
    return code, message


def mx_client(op, cert=None, *, starttls=True, context=None) -> smtplib.SMTP:
    client = smtplib.SMTP(*host_port(op, "mx"), local_hostname="mta.harnais.mssante.test", timeout=TIMEOUT)
    if starttls:
        client.starttls(context=context or tls_context(op.ca_file, cert))
        client.ehlo("mta.harnais.mssante.test")
    return client


def tls_handshake(host: str, port: int, context: ssl.SSLContext) -> str | None:
    """The negotiated version for implicit TLS, or None when the server refused the handshake."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return tls.version()
    except (ssl.SSLError, OSError):
        return None


def message(sender: str, recipient: str, subject: str, marker: str) -> bytes:
    return (f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{marker}@harnais.mssante.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
            f"\r\n{marker}\r\n").encode()


def _close(client) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass
