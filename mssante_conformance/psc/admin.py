"""Test-only admin API: mint any variant, read the relying-party call log, from another host.

Absent (404 on every path) unless an admin secret is configured; every request must carry
``Authorization: Bearer <secret>`` (compared in constant time). Answers carry tokens (that is
their purpose) but nothing here logs them.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from mssante_conformance.psc.mint import MintError, mint
from mssante_conformance.psc.state import BouchonState
from mssante_conformance.psc.variants import VARIANTS

ADMIN_PREFIX = "/_admin"


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
