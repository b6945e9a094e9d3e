"""What a run, the reference operator and the console may ask of a bouchon, wherever it runs.

Two implementations: :class:`~mssante_conformance.psc.embedded.Bouchon` (in this process,
on loopback) and :class:`~mssante_conformance.psc.remote.RemoteBouchon` (another process or
host, through the test-only admin API). Code outside ``psc`` holds a :class:`BouchonPort` and
never asks which one it got. ``tests/psc/test_port.py`` proves both implement every member.

Every URL member derives from :mod:`mssante_conformance.psc.discovery`. Note that
``isinstance(remote, BouchonPort)`` reads every property on Python 3.11 (its runtime protocol
check calls ``hasattr``), hence reaches a remote bouchon: the tests check members statically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from mssante_conformance.psc.clients import Client
from mssante_conformance.psc.discovery import discovery_url, endpoints
from mssante_conformance.psc.identities import Identity
from mssante_conformance.psc.mint import MintedToken
from mssante_conformance.psc.store import RelyingPartyCall
from mssante_conformance.psc.variants import TokenVariant


@runtime_checkable
class BouchonPort(Protocol):
    """A bouchon as its users see it. Members of a remote bouchon may reach the network (once:
    answers are cached) and raise ``RemoteBouchonError`` (French message, no secret)."""

    @property
    def url(self) -> str:
        """Public base URL (``http(s)://host:port``), under which the realms live."""

    @property
    def ca_file(self) -> Path | None:
        """CA bundle that verifies the bouchon's https certificate; None: plain http or the
        system store. A relying party of the bouchon (the reference operator) verifies with it."""

    @property
    def issuer(self) -> str:
        """The PSC realm's issuer (``iss`` of the tokens)."""

    @property
    def foreign_issuer(self) -> str:
        """The other identity provider's issuer (``foreign_issuer`` tokens)."""

    @property
    def discovery_url(self) -> str: ...

    @property
    def jwks_uri(self) -> str: ...

    @property
    def introspection_endpoint(self) -> str: ...

    @property
    def token_endpoint(self) -> str: ...

    @property
    def operator_client(self) -> Client:
        """The client an operator introspects with (id and secret: never print the secret)."""

    @property
    def identities(self) -> list[Identity]:
        """The test professionals the bouchon can mint tokens for."""

    def mint(self, variant: TokenVariant | str, idnat: str, client_id: str | None = None) -> MintedToken:
        """A token of ``variant`` for the professional ``idnat``."""

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        """The relying-party calls recorded since ``since`` (epoch seconds), oldest first."""


# The members, in order: what the conformance test of both implementations walks through.
PORT_PROPERTIES = ("url", "ca_file", "issuer", "foreign_issuer", "discovery_url", "jwks_uri",
                   "introspection_endpoint", "token_endpoint", "operator_client", "identities")
PORT_METHODS = ("mint", "calls")


class IssuerUrls:
    """The URL members of :class:`BouchonPort`, derived from ``self.issuer`` by
    :mod:`~mssante_conformance.psc.discovery`: one derivation for both implementations."""

    issuer: str

    @property
    def discovery_url(self) -> str:
        return discovery_url(self.issuer)

    @property
    def jwks_uri(self) -> str:
        return endpoints(self.issuer)["jwks_uri"]

    @property
    def introspection_endpoint(self) -> str:
        return endpoints(self.issuer)["introspection_endpoint"]

    @property
    def token_endpoint(self) -> str:
        return endpoints(self.issuer)["token_endpoint"]

    @property
    def authorization_endpoint(self) -> str:
        return endpoints(self.issuer)["authorization_endpoint"]

    @property
    def userinfo_endpoint(self) -> str:
        return endpoints(self.issuer)["userinfo_endpoint"]
