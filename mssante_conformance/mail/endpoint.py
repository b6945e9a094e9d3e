"""Operator URLs → endpoints.

``imap://host[:143]`` IMAP with STARTTLS, ``imaps://host[:993]`` IMAP over implicit TLS,
``smtp://host[:587]`` submission with STARTTLS, ``smtps://host[:465]`` implicit TLS.
Pure: no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import EndpointError

# scheme: (protocol, implicit TLS, default port)
SCHEMES: dict[str, tuple[str, bool, int]] = {
    "imap": ("imap", False, 143),
    "imaps": ("imap", True, 993),
    "smtp": ("smtp", False, 587),
    "smtps": ("smtp", True, 465),
}


@dataclass(frozen=True)
class Endpoint:
    """One network service of the operator.

    ``protocol``: ``imap`` or ``smtp``; ``implicit_tls``: TLS from the first byte (imaps,
    smtps), else STARTTLS is expected.
    """

    scheme: str
    host: str
    port: int

    @property
    def protocol(self) -> str:
        return SCHEMES[self.scheme][0]

    @property
    def implicit_tls(self) -> bool:
        return SCHEMES[self.scheme][1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def __str__(self) -> str:
        return self.url


def parse_operator_url(url: str) -> Endpoint:
    """Parse ``imap[s]://`` / ``smtp[s]://`` URLs; anything else raises :class:`EndpointError`."""
    if not isinstance(url, str) or not url.strip():
        raise EndpointError("adresse vide : attendu imap://, imaps://, smtp:// ou smtps://hôte[:port]")
    text = url.strip()
    if "://" not in text:
        raise EndpointError(
            f"adresse « {text} » sans schéma : attendu imap://, imaps://, smtp:// ou smtps://hôte[:port]"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise EndpointError(f"adresse « {text} » invalide : port incorrect") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise EndpointError(
            f"schéma « {scheme} » inconnu dans « {text} » : attendu imap, imaps, smtp ou smtps"
        )
    if parts.username is not None or parts.password is not None:
        # never echo the URL back: it may carry a password
        raise EndpointError("l'adresse ne doit pas contenir d'identifiants (utilisateur:mot de passe@)")
    if not parts.hostname:
        raise EndpointError(f"adresse « {text} » sans nom d'hôte")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise EndpointError(f"adresse « {text} » : chemin ou paramètres inattendus après hôte[:port]")
    if port == 0:
        raise EndpointError(f"adresse « {text} » : port 0 invalide")
    return Endpoint(scheme, parts.hostname, port or SCHEMES[scheme][2])
