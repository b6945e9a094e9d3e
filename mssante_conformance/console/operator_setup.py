"""What an operator configures to trust this bouchon, from the bouchon itself when available.

Accepts psc's embedded ``Bouchon`` (``issuer``, ``discovery_url``, ``jwks_uri``,
``introspection_endpoint``, ``operator_client``) or its app state (``config.issuer``,
``operator_client``); without one, endpoints are derived from the public URL with the PSC
realm layout and the client credentials are placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.discovery import discovery_url, endpoints, issuer_of, standard_discovery_url

DEFAULT_OPERATOR_CLIENT_ID = "operateur-reference"


@dataclass(frozen=True)
class BouchonFacts:
    issuer: str
    discovery_url: str
    standard_discovery_url: str
    jwks_uri: str
    introspection_endpoint: str
    client_id: str
    client_secret: str | None  # never rendered unless revealed once
    from_bouchon: bool

    @property
    def secret_fingerprint(self) -> str | None:
        return fingerprint(self.client_secret) if self.client_secret else None


def find_bouchon(app):
    for value in app.extensions.values():
        if hasattr(value, "operator_client") and (hasattr(value, "issuer") or hasattr(value, "config")):
            return value
    return None


def bouchon_facts(app, bouchon, public_url: str) -> BouchonFacts:
    bouchon = bouchon if bouchon is not None else find_bouchon(app)
    issuer = None
    client_id, secret = DEFAULT_OPERATOR_CLIENT_ID, None
    if bouchon is not None:
        try:
            issuer = getattr(bouchon, "issuer", None) or bouchon.config.issuer
            client = bouchon.operator_client
            client_id, secret = client.client_id, client.client_secret
        except (AttributeError, RuntimeError):
            issuer = None
    found = issuer is not None
    issuer = issuer or issuer_of(public_url)
    urls = endpoints(issuer)
    return BouchonFacts(
        issuer=issuer,
        discovery_url=discovery_url(issuer),
        standard_discovery_url=standard_discovery_url(issuer),
        jwks_uri=urls["jwks_uri"],
        introspection_endpoint=urls["introspection_endpoint"],
        client_id=client_id,
        client_secret=secret,
        from_bouchon=found,
    )
