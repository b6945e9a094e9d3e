"""Configuration of a bouchon, and the rule that it never presents itself as real PSC."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mssante_conformance.psc.clock import Clock, system_clock
from mssante_conformance.psc.discovery import FOREIGN_REALM_PATH, REALM_PATH, foreign_issuer_of, issuer_of

__all__ = ["FOREIGN_REALM_PATH", "REALM_PATH"]  # re-exported: older imports name them here
DEFAULT_TOKEN_LIFETIME_S = 120
SESSION_IDLE_S = 15 * 60
SESSION_MAX_S = 4 * 3600
HOME_ENV = "MSSANTE_CONFORMANCE_HOME"

# Every host under this domain belongs to the real Pro Santé Connect (production `auth.esw…`,
# sandbox `auth.bas.psc…`, wallet hosts): the bouchon must never claim to be one of them.
FORBIDDEN_DOMAIN = "esante.gouv.fr"


class UnsafeIssuer(ValueError):
    """The public URL would make the bouchon present itself as real PSC."""


def default_data_dir() -> Path:
    """``$MSSANTE_CONFORMANCE_HOME/bouchon`` if set, else ``./var/bouchon``."""
    home = os.environ.get(HOME_ENV)
    return Path(home) / "bouchon" if home else Path("var") / "bouchon"


def check_public_url(public_url: str) -> str:
    """Return ``public_url`` without trailing slash; raise on a bad or real-PSC URL."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"URL publique invalide: {public_url!r} (attendu http(s)://hôte[:port])")
    if parts.query or parts.fragment:
        raise ValueError(f"URL publique invalide: {public_url!r} (pas de requête ni de fragment)")
    host = parts.hostname.lower().rstrip(".")
    if host == FORBIDDEN_DOMAIN or host.endswith("." + FORBIDDEN_DOMAIN):
        raise UnsafeIssuer(
            f"refus: {host} est un hôte du vrai Pro Santé Connect; "
            "le bouchon ne doit jamais se présenter comme PSC"
        )
    return public_url.rstrip("/")


@dataclass
class BouchonConfig:
    """Everything a bouchon instance needs. ``public_url`` may be set after binding a port."""

    data_dir: Path
    public_url: str | None = None
    token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S
    admin_secret: str | None = None
    clock: Clock = field(default=system_clock)
    session_idle_s: int = SESSION_IDLE_S
    session_max_s: int = SESSION_MAX_S
    code_lifetime_s: int = 60

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        if self.public_url is not None:
            self.public_url = check_public_url(self.public_url)
        if not isinstance(self.token_lifetime_s, int) or self.token_lifetime_s <= 0:
            raise ValueError("token_lifetime_s doit être un entier positif")
        if self.admin_secret is not None and len(self.admin_secret) < 16:
            raise ValueError("le secret d'administration doit faire au moins 16 caractères")

    def set_public_url(self, public_url: str) -> None:
        self.public_url = check_public_url(public_url)

    @property
    def issuer(self) -> str:
        if not self.public_url:
            raise RuntimeError("public_url not set yet")
        return issuer_of(self.public_url)

    @property
    def foreign_issuer(self) -> str:
        if not self.public_url:
            raise RuntimeError("public_url not set yet")
        return foreign_issuer_of(self.public_url)
