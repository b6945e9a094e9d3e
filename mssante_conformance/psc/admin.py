"""Test-only admin API: mint any variant, read the relying-party call log, from another host.

Absent (404 on every path) unless an admin secret is configured; every request must carry
``Authorization: Bearer <secret>`` (compared in constant time). Answers carry tokens and, on
``/operator-client``, the operator client's secret (a holder of the admin secret is fully
privileged: it can mint any token anyway); nothing here logs them. What
:class:`~mssante_conformance.psc.remote.RemoteBouchon` reads:

* ``GET /info``: issuer, foreign issuer, client ids, token lifetime, identities, variants;
* ``GET /operator-client``: ``{client_id, client_secret}`` the operator introspects with
  (to set up a reference operator against this bouchon);
* ``POST /mint`` ``{variant, idnat, client_id?}``: a token and its fingerprint, claims;
* ``GET /calls?since=&endpoint=``: the relying-party call log.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from mssante_conformance.psc.discovery import ADMIN_PREFIX
from mssante_conformance.psc.mint import MintError, mint
from mssante_conformance.psc.state import BouchonState
from mssante_conformance.psc.variants import VARIANTS

__all__ = ["ADMIN_PREFIX", "create_admin_blueprint"]


def create_admin_blueprint(state: BouchonState) -> Blueprint:
    bp = Blueprint("psc_admin", __name__, url_prefix=ADMIN_PREFIX)

    @bp.before_request
    def require_secret():
        secret = state.config.admin_secret
        if not secret:
            abort(404)
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8")):
            response = jsonify(error="unauthorized", error_description="secret d'administration invalide")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="bouchon-admin"'
            return response
        return None

    @bp.get("/info")
    def info():
        return jsonify(issuer=state.config.issuer, foreign_issuer=state.config.foreign_issuer,
                       operator_client_id=state.operator_client.client_id,
                       lps_client_id=state.lps_client.client_id,
                       token_lifetime_s=state.config.token_lifetime_s,
                       identities=[vars(i) for i in state.identities],
                       variants={str(v): spec.what for v, spec in VARIANTS.items()})

    @bp.get("/operator-client")
    def operator_client():
        client = state.operator_client
        response = jsonify(client_id=client.client_id, client_secret=client.client_secret)
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/mint")
    def mint_token():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="invalid_request", error_description="corps JSON attendu"), 400
        try:
            minted = mint(state, body.get("variant"), body.get("idnat"), body.get("client_id"))
        except MintError as exc:
            return jsonify(error="invalid_request", error_description=str(exc)), 400
        return jsonify(minted.as_dict())

    @bp.get("/calls")
    def calls():
        since = request.args.get("since")
        try:
            since_value = float(since) if since else None
        except ValueError:
            return jsonify(error="invalid_request", error_description="'since' doit être un nombre"), 400
        endpoint = request.args.get("endpoint") or None
        return jsonify(calls=[c.as_dict() for c in state.store.calls(since_value, endpoint)])

    return bp
