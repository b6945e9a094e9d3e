"""Driving a bouchon on another host through its test-only admin API."""

from __future__ import annotations

import requests

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.mint import MintedToken, parse_variant
from mssante_conformance.psc.store import RelyingPartyCall

TIMEOUT_S = 10


class RemoteBouchonError(RuntimeError):
    """The remote bouchon refused or could not be reached (message in French, no secret)."""


class RemoteBouchon:
    def __init__(self, url: str, admin_secret: str, timeout_s: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        self._secret = admin_secret
        self._timeout = timeout_s
        self._info: dict | None = None

    def __repr__(self) -> str:
        return f"RemoteBouchon({self.url!r}, admin_secret={fingerprint(self._secret)})"

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = requests.request(method, f"{self.url}/_admin{path}", timeout=self._timeout,
                                        headers={"Authorization": f"Bearer {self._secret}"}, **kwargs)
        except requests.RequestException as exc:
            raise RemoteBouchonError(f"bouchon injoignable ({type(exc).__name__})") from None
        if response.status_code == 404:
            raise RemoteBouchonError("API d'administration absente (aucun secret configuré)")
        if response.status_code == 401:
            raise RemoteBouchonError("secret d'administration refusé")
        try:
            body = response.json()
        except ValueError:
            raise RemoteBouchonError(f"réponse non JSON (HTTP {response.status_code})") from None
        if response.status_code != 200:
            raise RemoteBouchonError(body.get("error_description") or f"HTTP {response.status_code}")
        return body

    def info(self) -> dict:
        if self._info is None:
            self._info = self._call("GET", "/info")
        return self._info

    @property
    def issuer(self) -> str:
        return self.info()["issuer"]

    def mint(self, variant, idnat: str, client_id: str | None = None) -> MintedToken:
        variant = parse_variant(variant)
        body = self._call("POST", "/mint", json={"variant": str(variant), "idnat": idnat,
                                                 "client_id": client_id})
        return MintedToken(token=body["token"], variant=parse_variant(body["variant"]),
                           fingerprint=body["fingerprint"], jti=body.get("jti"), claims=body["claims"])

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        params = {k: v for k, v in (("since", since), ("endpoint", endpoint)) if v is not None}
        body = self._call("GET", "/calls", params=params)
        return [RelyingPartyCall(c["time"], c["endpoint"], c["client_id"], c["token_fingerprint"],
                                 c["answer"]) for c in body["calls"]]
