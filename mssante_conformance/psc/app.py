"""The bouchon's Flask application factory."""

from __future__ import annotations

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from mssante_conformance.psc.admin import create_admin_blueprint
from mssante_conformance.psc.config import BouchonConfig
from mssante_conformance.psc.discovery import WALLET_AUTHORIZE_PATH
from mssante_conformance.psc.hot_paths import install as install_hot_paths
from mssante_conformance.psc.oauth_server import build_server
from mssante_conformance.psc.oidc_views import (create_foreign_blueprint, create_oidc_blueprint,
                                                reject_what_authlib_cannot_answer)
from mssante_conformance.psc.state import BouchonState


class PublicUrlRequired(ValueError):
    """The bouchon was built without knowing the URL it is reached at."""


def create_app(config: BouchonConfig, state: BouchonState | None = None, *,
               public_url_pending: bool = False) -> Flask:
    """Build the app. ``state`` may be shared with an embedded runner (same store and keys).

    The issuer is derived from ``config.public_url``, which must be given: taking it from the
    first request's Host header would let whoever asks first choose the issuer of every token.
    A server that learns its port only once bound (the embedded bouchon) passes
    ``public_url_pending=True`` and calls ``config.set_public_url`` before serving; until then
    every request is answered 503.
    """
    if not config.public_url and not public_url_pending:
        raise PublicUrlRequired("le bouchon a besoin de son URL publique (--public-url)")
    state = state or BouchonState(config)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, JSON_SORT_KEYS=False)
    app.json.ensure_ascii = False
    app.extensions["bouchon"] = state
    server = build_server(app, state)
    oidc = create_oidc_blueprint(state, server)
    app.register_blueprint(oidc)
    app.register_blueprint(create_foreign_blueprint(state))
    app.register_blueprint(create_admin_blueprint(state))
    app.add_url_rule(WALLET_AUTHORIZE_PATH, "wallet_authorize", app.view_functions["psc.authorize"],
                     methods=["GET", "POST"])

    @app.before_request
    def wallet_authorize_guard():  # the blueprint's guard does not run for an app-level rule
        if request.endpoint == "wallet_authorize":
            return reject_what_authlib_cannot_answer()
        return None

    @app.before_request
    def public_url_known():
        if not state.config.public_url:  # pending: never guessed from the request's Host
            abort(503, description="public URL not set yet")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = jsonify(error="not_found" if exc.code == 404 else "invalid_request",
                           error_description=exc.description)
        response.status_code = exc.code or 400
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # never a traceback to the relying party
        app.logger.error("unexpected error on %s: %s", request.path, type(exc).__name__)
        response = jsonify(error="server_error", error_description="unexpected error")
        response.status_code = 500
        return response

    install_hot_paths(app, state, server)
    return app
