"""Peer certificate summaries and host-name matching (pure, from DER bytes)."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509


@dataclass(frozen=True)
class CertificateSummary:
    """What evidence shows of a certificate (all public).

    ``sha256``: hex SHA-256 of the DER certificate; dates in ISO 8601 UTC; ``sans``: DNS
    names and IP addresses of the subjectAltName extension.
    """

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: str
    not_after: str
    serial: str
    sha256: str

    def expired(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        return datetime.fromisoformat(self.not_after) < now

    def not_yet_valid(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(timezone.utc)
        return datetime.fromisoformat(self.not_before) > now

    def to_dict(self) -> dict:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "serial": self.serial,
            "sha256": self.sha256,
        }


def load(cert: bytes | x509.Certificate) -> x509.Certificate:
    return cert if isinstance(cert, x509.Certificate) else x509.load_der_x509_certificate(cert)


def subject_alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = ext.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return tuple(dns) + tuple(ips)


def summarize_certificate(cert: bytes | x509.Certificate) -> CertificateSummary:
    cert = load(cert)
    from cryptography.hazmat.primitives.serialization import Encoding

    der = cert.public_bytes(Encoding.DER)
    return CertificateSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=subject_alt_names(cert),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(der).hexdigest(),
    )


def hostname_matches(cert: bytes | x509.Certificate, host: str) -> bool:
    """RFC 6125 matching of ``host`` against the SAN (DNS names, one left-most wildcard; IPs)."""
    cert = load(cert)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return address in ext.get_values_for_type(x509.IPAddress)
    host = host.rstrip(".").lower()
    for name in ext.get_values_for_type(x509.DNSName):
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, _, rest = host.partition(".")
            if label and rest == name[2:]:
                return True
    return False
