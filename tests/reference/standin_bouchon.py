"""Stand-in bouchon, used only while `mssante_conformance.psc.Bouchon` is not in the tree.

Same surface as the bouchon for what these tests need (url, issuer, jwks_uri,
introspection_endpoint, operator_client, mint, calls), built from the bouchon's own variant
code (psc/variants.py, psc/keys.py) so the tokens are the real variants; introspection is a
small RFC 7662 endpoint (HTTP Basic or form client auth) that checks signature, iss, exp,
nbf and revocation. Delete this file once the real bouchon has landed.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.keys import KeyRing
from mssante_conformance.psc.variants import TokenVariant, shape_claims, sign_variant

REALM = "/auth/realms/esante-wallet"


@dataclass
class Client:
    client_id: str
    client_secret: str


@dataclass
class Minted:
    token: str
    variant: TokenVariant
    fingerprint: str
    claims: dict


@dataclass
class Call:
    time: float
    endpoint: str
    client_id: str
    token_fingerprint: str
    answer: dict


class StandInBouchon:
    def __init__(self, data_dir: Path):
        self.keys = KeyRing.load(data_dir)
        self.operator_client = Client("operateur-reference", uuid.uuid4().hex)
        self._revoked: set[str] = set()
        self._calls: list[Call] = []
        app = Flask("standin-bouchon")
        app.add_url_rule(REALM + "/protocol/openid-connect/token/introspect", view_func=self._introspect,
                         methods=["POST"])
        app.add_url_rule(REALM + "/protocol/openid-connect/certs", view_func=self._certs)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.url + REALM
        self.jwks_uri = self.issuer + "/protocol/openid-connect/certs"
        self.introspection_endpoint = self.issuer + "/protocol/openid-connect/token/introspect"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()

    def mint(self, variant: TokenVariant, idnat: str) -> Minted:
        now = int(time.time())
        claims = {"exp": now + 120, "iat": now, "jti": str(uuid.uuid4()), "iss": self.issuer,
                  "sub": idnat, "typ": "Bearer", "azp": "lps-test", "SubjectNameID": idnat,
                  "preferred_username": idnat, "scope": "openid scope_all", "acr": "eidas1"}
        if variant is TokenVariant.OTHER_PROFESSIONAL:
            claims["SubjectNameID"] = claims["preferred_username"] = "899700427885"
        shaped = shape_claims(variant, claims, foreign_issuer=self.url + "/auth/realms/foreign-idp",
                              lifetime_s=120, now=now)
        token, shown = sign_variant(variant, shaped, self.keys, tampered_idnat="899700427885")
        if variant is TokenVariant.REVOKED:
            self._revoked.add(shaped["jti"])
        return Minted(token, variant, fingerprint(token), shown)

    def calls(self, since=None, endpoint=None):
        return list(self._calls)

    def _certs(self):
        return jsonify(keys=[self.keys.psc.public_jwk])

    def _introspect(self):
        auth = request.authorization
        client_id = auth.username if auth else request.form.get("client_id", "")
        secret = auth.password if auth else request.form.get("client_secret", "")
        if (client_id, secret) != (self.operator_client.client_id, self.operator_client.client_secret):
            return jsonify(error="invalid_client"), 401
        token = request.form.get("token", "")
        answer = {"active": False}
        try:
            decoded = jwt.decode(token, KeySet([self.keys.psc.key]), algorithms=["RS256"])
            claims, now = decoded.claims, time.time()
            if (decoded.header.get("kid") == self.keys.psc.kid and "jwk" not in decoded.header
                    and claims.get("iss") == self.issuer and claims.get("exp", 0) > now
                    and claims.get("nbf", 0) <= now and claims.get("iat", 0) <= now + 5
                    and claims.get("jti") not in self._revoked):
                answer = {**claims, "active": True}
        except Exception:
            pass
        self._calls.append(Call(time.time(), "introspection", client_id, fingerprint(token), answer))
        return jsonify(answer)
