"""TLS on a probe's connection (handshake, what was negotiated) and sslyze scans.

Per connection, :func:`handshake` verifies the chain against ``ca_file`` (or the system
store) and the host name. When verification fails it raises
:class:`~.errors.CertificateNotTrusted` with OpenSSL's reason; the drivers then reconnect
without verification if the caller allowed it (``allow_unverified=True``), recording
``verified=False`` and the reason in :class:`TlsInfo`, so checks can go on.

:func:`scan_endpoints` (in :mod:`.tls_scan`, re-exported here) runs sslyze on several
endpoints concurrently: versions, cipher suites, certificate.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass

from . import deadline as check_deadline
from .certificate import CertificateSummary, hostname_matches, summarize_certificate
from .errors import CertificateNotTrusted, ConnectionLost, ProbeTimeout, TlsFailure


@dataclass(frozen=True)
class TlsInfo:
    """The TLS parameters of one connection.

    ``version`` (``TLSv1.3``…), ``cipher`` (OpenSSL name), ``bits``; ``certificate``: the
    peer's leaf certificate; ``verified``: the chain verified against ``ca_file`` (``None``
    = system store) *and* the host name matched; ``verify_error``: why it did not;
    ``hostname_matched``: the leaf certificate names ``host``; ``client_certificate``: a
    client certificate was offered.
    """

    host: str
    version: str
    cipher: str
    bits: int
    certificate: CertificateSummary | None
    verified: bool
    verify_error: str | None
    hostname_matched: bool
    ca_file: str | None = None
    client_certificate: bool = False

    def summary(self) -> str:
        cert = self.certificate
        who = f"{cert.subject} (émis par {cert.issuer}, expire {cert.not_after})" if cert else "aucun certificat"
        trust = "vérifié" if self.verified else f"NON vérifié : {self.verify_error}"
        return f"{self.version} {self.cipher} ; certificat {who} ; {trust}"

    def to_dict(self) -> dict:
        return {
            "host": self.host,
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "verified": self.verified,
            "verify_error": self.verify_error,
            "hostname_matched": self.hostname_matched,
            "ca_file": self.ca_file,
            "client_certificate": self.client_certificate,
        }


def client_context(
    *,
    verify: bool,
    ca_file: str | None = None,
    client_cert: tuple[str, str | None] | None = None,
    check_hostname: bool = True,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
) -> ssl.SSLContext:
    """A client context: the chain verified against ``ca_file`` (or the system store) when
    ``verify``, the host name too unless ``check_hostname`` is False (an MX reached by IP);
    ``min_version``/``max_version`` bound the versions offered (below TLS 1.2, OpenSSL 3 needs
    ``@SECLEVEL=0``, set here: offering them is what a probe of legacy TLS is for)."""
    if verify and check_hostname:
        context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        if not verify:
            context.verify_mode = ssl.CERT_NONE
        elif ca_file:
            context.load_verify_locations(cafile=ca_file)
        else:
            context.load_default_certs()
    if min_version is not None and min_version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probing them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            context.minimum_version = min_version
        if max_version is not None:
            context.maximum_version = max_version
    if client_cert:
        context.load_cert_chain(*client_cert)
    return context


def handshake(
    sock: socket.socket,
    host: str,
    *,
    timeout: float,
    verify: bool = True,
    ca_file: str | None = None,
    client_cert: tuple[str, str | None] | None = None,
    verify_error: str | None = None,
    step: str = "tls",
    check_hostname: bool = True,
    min_version: ssl.TLSVersion | None = None,
    max_version: ssl.TLSVersion | None = None,
) -> tuple[ssl.SSLSocket, TlsInfo]:
    """TLS handshake on a connected socket; returns the TLS socket and what was negotiated.

    ``verify_error``: on an unverified retry, the reason the verifying attempt failed (or why
    there was no verification). The other options are :func:`client_context`'s.
    """
    context = client_context(verify=verify, ca_file=ca_file, client_cert=client_cert,
                             check_hostname=check_hostname, min_version=min_version,
                             max_version=max_version)
    try:
        # CPython bounds the whole handshake by the socket timeout (not each read): a peer
        # that drips its handshake cannot outlast it, nor the check's deadline.
        sock.settimeout(check_deadline.budget(timeout, host, step))
    except ProbeTimeout:
        sock.close()
        raise
    try:
        tls_sock = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        reason = exc.verify_message or str(exc)
        raise CertificateNotTrusted(
            f"certificat de {host} non vérifié : {reason}", step=step, verify_error=reason
        ) from None
    except (TimeoutError, socket.timeout):
        sock.close()
        check_deadline.raise_if_spent(host, step)
        raise ProbeTimeout(f"négociation TLS avec {host} sans réponse en {timeout:g} s", step=step) from None
    except ssl.SSLError as exc:
        sock.close()
        raise TlsFailure(f"échec de la négociation TLS avec {host} : {exc.reason or exc}", step=step) from None
    except OSError as exc:
        sock.close()
        raise ConnectionLost(f"connexion coupée pendant la négociation TLS avec {host} : {exc}", step=step) from None
    der = tls_sock.getpeercert(binary_form=True)
    cipher = tls_sock.cipher() or ("", "", 0)
    info = TlsInfo(
        host=host,
        version=tls_sock.version() or "",
        cipher=cipher[0],
        bits=cipher[2] or 0,
        certificate=summarize_certificate(der) if der else None,
        verified=verify,
        verify_error=None if verify else (verify_error or "vérification désactivée"),
        hostname_matched=hostname_matches(der, host) if der else False,
        ca_file=ca_file,
        client_certificate=client_cert is not None,
    )
    return tls_sock, info


def __getattr__(name: str):
    # sslyze is heavy to import: load the scanner only when asked for
    if name in ("scan_endpoints", "TlsScanResult", "TLS_VERSIONS"):
        from . import tls_scan

        return getattr(tls_scan, name)
    raise AttributeError(name)
