"""TLS of the harness's MX sink: a server context that asks for *any* client certificate,
and the facts recorded about each connection (version, cipher, the client certificate and
whether it chains to the test IGC Santé CA).

Why the callback: an MSSanté MX must record what an operator's MTA presents — a trusted IGC
Santé certificate, a certificate from another CA, an expired one, or none. Python's ``ssl``
only *requests* a client certificate when ``verify_mode`` is ``CERT_OPTIONAL``/``REQUIRED``,
and then OpenSSL aborts the handshake on any certificate that does not verify, so an untrusted
certificate could never be seen. Postfix solves this with a verify callback that always
accepts and records the result; Python's ``ssl`` does not expose one. We therefore install
OpenSSL's ``SSL_CTX_set_cert_verify_callback`` with a callback returning 1 (through
``ctypes`` on the ``SSL_CTX`` of the context, after a sanity check), and verify the chain
ourselves with ``cryptography`` (:func:`examine_client_certificate`). The TLS handshake still
proves possession of the key (CertificateVerify); only the chain decision moves to us.

If the callback cannot be installed (another interpreter, another libssl), the context falls
back to plain ``CERT_OPTIONAL`` with the CA loaded: trusted certificates and their absence are
still recorded, an untrusted certificate makes the handshake fail and is recorded as a TLS
error of the connection (:attr:`SinkTlsContext.accepts_any_client_certificate` says which).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_SSL_VERIFY_PEER = 0x01


@dataclass(frozen=True)
class PeerCertificate:
    """The client certificate of one connection, as the sink saw it (all public data).

    ``chains_to_ca``: its signature chain ends at a certificate of the sink's CA bundle (the
    test IGC Santé CA); ``chain_error``: why not; ``valid_now``: within its validity period at
    the handshake; ``policy_oids``: its certificatePolicies; ``sha256``: hex of the DER.
    """

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str
    policy_oids: tuple[str, ...]
    chains_to_ca: bool
    chain_error: str | None
    valid_now: bool

    @property
    def trusted(self) -> bool:
        """Chains to the CA *and* is within its validity period."""
        return self.chains_to_ca and self.valid_now

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "sha256": self.sha256,
            "policy_oids": list(self.policy_oids),
            "chains_to_ca": self.chains_to_ca,
            "chain_error": self.chain_error,
            "valid_now": self.valid_now,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PeerCertificate":
        return cls(**{**data, "policy_oids": tuple(data.get("policy_oids", ()))})


@dataclass(frozen=True)
class TlsFacts:
    """What was negotiated on one sink connection after STARTTLS.

    ``client_certificate`` is ``None`` when the client presented none.
    """

    version: str
    cipher: str
    bits: int
    client_certificate: PeerCertificate | None

    @property
    def client_certificate_trusted(self) -> bool:
        return bool(self.client_certificate and self.client_certificate.trusted)

    def to_dict(self) -> dict[str, Any]:
        cert = self.client_certificate
        return {
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "client_certificate": cert.to_dict() if cert else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TlsFacts | None":
        if not data:
            return None
        cert = data.get("client_certificate")
        return cls(
            version=data["version"],
            cipher=data["cipher"],
            bits=int(data.get("bits") or 0),
            client_certificate=PeerCertificate.from_dict(cert) if cert else None,
        )


# -- chain verification (pure: certificates in, facts out) ---------------------------------
def load_ca_bundle(ca_file: str | Path) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(ca_file).read_bytes()))


def _policy_oids(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(p.policy_identifier.dotted_string for p in policies)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _within_validity(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def chain_to_anchors(
    leaf: x509.Certificate, anchors: tuple[x509.Certificate, ...], *, max_depth: int = 8
) -> str | None:
    """``None`` if ``leaf`` chains by signature to one of ``anchors``, else the reason (French).

    Every issuer on the way must be a CA certificate of the bundle; dates are checked
    separately (:attr:`PeerCertificate.valid_now`), so an expired but genuine IGC Santé
    certificate still "chains".
    """
    anchor_der = {a.public_bytes(Encoding.DER) for a in anchors}
    current = leaf
    for _ in range(max_depth):
        if current is not leaf and current.public_bytes(Encoding.DER) in anchor_der:
            return None
        candidates = [a for a in anchors if a.subject == current.issuer and _is_ca(a)]
        if not candidates:
            if current.public_bytes(Encoding.DER) in anchor_der:
                return None  # the leaf itself is an anchor (unusual, but trusted)
            return f"émetteur inconnu de l'autorité de confiance : {current.issuer.rfc4514_string()}"
        for issuer in candidates:
            try:
                current.verify_directly_issued_by(issuer)
            except (InvalidSignature, ValueError, TypeError):
                continue
            if issuer.subject == issuer.issuer or issuer.public_bytes(Encoding.DER) in anchor_der:
                return None
            current = issuer
            break
        else:
            return f"signature invalide (émetteur annoncé : {current.issuer.rfc4514_string()})"
    return "chaîne trop longue"


def examine_client_certificate(
    der: bytes, anchors: tuple[x509.Certificate, ...], *, now: datetime | None = None
) -> PeerCertificate:
    now = now or datetime.now(timezone.utc)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return PeerCertificate("", "", "", "", "", hashlib.sha256(der).hexdigest(), (), False, f"certificat illisible : {exc}", False)
    error = chain_to_anchors(cert, anchors)
    try:
        policies = _policy_oids(cert)
    except ValueError:
        policies = ()
    return PeerCertificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        sha256=hashlib.sha256(der).hexdigest(),
        policy_oids=policies,
        chains_to_ca=error is None,
        chain_error=error,
        valid_now=_within_validity(cert, now),
    )


def tls_facts(ssl_object: Any, anchors: tuple[x509.Certificate, ...]) -> TlsFacts:
    """Facts of an established server-side TLS session (``ssl.SSLObject``/``SSLSocket``)."""
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher() or ("", "", 0)
    return TlsFacts(
        version=ssl_object.version() or "",
        cipher=cipher[0],
        bits=cipher[2] or 0,
        client_certificate=examine_client_certificate(der, anchors) if der else None,
    )


# -- the server context --------------------------------------------------------------------
def _libssl() -> ctypes.CDLL | None:
    """The libssl that ``_ssl`` uses (found in the process's maps), not just any libssl."""
    import _ssl  # noqa: F401 — make sure it is loaded

    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "/libssl.so" in path:
                    return ctypes.CDLL(path)
    except OSError:
        pass
    name = ctypes.util.find_library("ssl")
    return ctypes.CDLL(name) if name else None


def _accept_any_chain(context: ssl.SSLContext) -> bool:
    """Install an always-accepting cert-verify callback on ``context``; True if done."""
    if not hasattr(ssl.SSLContext, "__basicsize__") or ssl.SSLContext.__mro__[1].__name__ != "_SSLContext":
        return False
    try:
        lib = _libssl()
        if lib is None:
            return False
        get_mode = lib.SSL_CTX_get_verify_mode
        get_mode.argtypes, get_mode.restype = [ctypes.c_void_p], ctypes.c_int
        set_cb = lib.SSL_CTX_set_cert_verify_callback
        set_cb.argtypes, set_cb.restype = [ctypes.c_void_p, _VERIFY_CB, ctypes.c_void_p], None
        # PySSLContext: PyObject_HEAD, then ``SSL_CTX *ctx`` (stable since CPython 3.x).
        pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if not pointer or get_mode(pointer) != _SSL_VERIFY_PEER:
            return False
        callback = _VERIFY_CB(lambda store, arg: 1)
        set_cb(pointer, callback, None)
        context._mssante_verify_callback = callback  # keep the C callback alive with the context
        return True
    except (OSError, AttributeError, ValueError):
        return False


@dataclass(frozen=True)
class SinkTlsContext:
    context: ssl.SSLContext
    anchors: tuple[x509.Certificate, ...]
    accepts_any_client_certificate: bool


def server_context(
    cert_file: str | Path,
    key_file: str | Path,
    ca_file: str | Path,
    *,
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> SinkTlsContext:
    """STARTTLS context of the sink: our certificate, asks for a client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = min_version
    context.load_cert_chain(str(cert_file), str(key_file))
    context.load_verify_locations(cafile=str(ca_file))  # also the CA names sent in CertificateRequest
    context.verify_mode = ssl.CERT_OPTIONAL
    anchors = load_ca_bundle(ca_file)
    return SinkTlsContext(context, anchors, _accept_any_chain(context))
