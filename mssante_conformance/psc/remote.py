"""A bouchon served by another process or host, driven through its test-only admin API.

``mssante-conformance bouchon --admin-secret-file F [--tls-cert C --tls-key K]`` serves it;
:class:`RemoteBouchon` (a :class:`~mssante_conformance.psc.port.BouchonPort`) reads its facts
from ``/_admin/info`` once, derives every URL from the issuer (``psc.discovery``), mints and
reads the call log. Over https the certificate is verified, against ``ca_file`` when given.
Every failure is a :class:`RemoteBouchonError` with a French one-line reason, never the secret.
"""

from __future__ import annotations

import threading
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import requests

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.clients import Client
from mssante_conformance.psc.discovery import admin_url, public_url_of
from mssante_conformance.psc.port import IssuerUrls
from mssante_conformance.psc.identities import Identity
from mssante_conformance.psc.mint import MintedToken, parse_variant
from mssante_conformance.psc.store import RelyingPartyCall

TIMEOUT_S = 10
_IDENTITY_FIELDS = {f.name for f in fields(Identity)}


class RemoteBouchonError(RuntimeError):
    """The remote bouchon refused or could not be reached (message in French, no secret)."""


class RemoteBouchon(IssuerUrls):
    def __init__(self, url: str, admin_secret: str, timeout_s: float = TIMEOUT_S,
                 ca_file: str | Path | None = None):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteBouchonError(f"URL du bouchon invalide : {url!r} (attendu http(s)://hôte:port)")
        if not admin_secret:
            raise RemoteBouchonError("secret d'administration du bouchon absent")
        self._url = public_url_of(url)
        self._secret = admin_secret
        self._timeout = timeout_s
        self._ca_file = Path(ca_file) if ca_file else None
        if self._ca_file is not None and not self._ca_file.is_file():
            raise RemoteBouchonError(f"ancre de confiance du bouchon introuvable : {self._ca_file}")
        self._lock = threading.Lock()
        self._info: dict | None = None
        self._operator_client: Client | None = None

    def __repr__(self) -> str:
        return f"RemoteBouchon({self.url!r}, admin_secret={fingerprint(self._secret)})"

    # -- transport -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs) -> dict:
        where = admin_url(self.url, path)
        try:
            response = requests.request(
                method, where, timeout=self._timeout, allow_redirects=False,
                verify=str(self._ca_file) if self._ca_file else True,
                headers={"Authorization": f"Bearer {self._secret}"}, **kwargs)
        except requests.exceptions.SSLError:
            anchor = f"ancre {self._ca_file}" if self._ca_file else "magasin du système ; voir --bouchon-ca-file"
            raise RemoteBouchonError(f"certificat HTTPS du bouchon {self.url} non vérifié ({anchor})") from None
        except requests.Timeout:
            raise RemoteBouchonError(f"le bouchon {self.url} n'a pas répondu en {self._timeout:g} s") from None
        except requests.RequestException as exc:
            raise RemoteBouchonError(f"bouchon injoignable à {self.url} ({type(exc).__name__})") from None
        if response.status_code == 404:
            raise RemoteBouchonError(f"API d'administration absente sur {self.url} (bouchon lancé "
                                     "sans --admin-secret-file, ou trop ancien)")
        if response.status_code == 401:
            raise RemoteBouchonError("secret d'administration refusé par le bouchon")
        try:
            body = response.json()
        except ValueError:
            raise RemoteBouchonError(f"réponse non JSON du bouchon (HTTP {response.status_code})") from None
        if not isinstance(body, dict):
            raise RemoteBouchonError(f"réponse inattendue du bouchon (HTTP {response.status_code})")
        if response.status_code != 200:
            raise RemoteBouchonError(str(body.get("error_description") or f"HTTP {response.status_code}"))
        return body

    def info(self) -> dict:
        """``/_admin/info``, read once."""
        with self._lock:
            if self._info is None:
                info = self._call("GET", "/info")
                if not isinstance(info.get("issuer"), str) or not isinstance(info.get("identities"), list):
                    raise RemoteBouchonError("réponse /_admin/info incomplète (émetteur ou identités manquants)")
                self._info = info
            return self._info

    # -- BouchonPort ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    @property
    def ca_file(self) -> Path | None:
        return self._ca_file

    @property
    def issuer(self) -> str:
        return self.info()["issuer"]

    @property
    def foreign_issuer(self) -> str:
        value = self.info().get("foreign_issuer")
        if not isinstance(value, str):
            raise RemoteBouchonError("le bouchon ne donne pas l'émetteur étranger (/_admin/info)")
        return value

    @property
    def operator_client(self) -> Client:
        """Read from ``/_admin/operator-client`` once; the secret stays out of every repr."""
        with self._lock:
            if self._operator_client is None:
                body = self._call("GET", "/operator-client")
                client_id, secret = body.get("client_id"), body.get("client_secret")
                if not isinstance(client_id, str) or not isinstance(secret, str) or not secret:
                    raise RemoteBouchonError("réponse /_admin/operator-client incomplète")
                self._operator_client = Client(client_id, secret)
            return self._operator_client

    @property
    def identities(self) -> list[Identity]:
        out = []
        for entry in self.info()["identities"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("idnat"), str):
                raise RemoteBouchonError("identité mal formée dans /_admin/info")
            known = {k: str(v) for k, v in entry.items() if k in _IDENTITY_FIELDS and v is not None}
            known.setdefault("given_name", "")
            known.setdefault("family_name", "")
            out.append(Identity(**known))
        return out

    def mint(self, variant, idnat: str, client_id: str | None = None) -> MintedToken:
        variant = parse_variant(variant)
        body = self._call("POST", "/mint", json={"variant": str(variant), "idnat": idnat,
                                                 "client_id": client_id})
        try:
            return MintedToken(token=body["token"], variant=parse_variant(body["variant"]),
                               fingerprint=body["fingerprint"], jti=body.get("jti"), claims=body["claims"])
        except (KeyError, ValueError):
            raise RemoteBouchonError("réponse /_admin/mint incomplète") from None

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        params = {k: v for k, v in (("since", since), ("endpoint", endpoint)) if v is not None}
        body = self._call("GET", "/calls", params=params)
        try:
            return [RelyingPartyCall(c["time"], c["endpoint"], c["client_id"], c["token_fingerprint"],
                                     c["answer"]) for c in body["calls"]]
        except (KeyError, TypeError):
            raise RemoteBouchonError("réponse /_admin/calls mal formée") from None
