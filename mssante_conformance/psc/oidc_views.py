"""HTTP surface of the PSC realm (and of the foreign IdP): thin views around authlib and state."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, g, jsonify, make_response, redirect, render_template, request

from mssante_conformance.psc.calllog import attempted_client_id, note_call, record_noted_call
from mssante_conformance.psc.claims import AUTH_MODES, SessionFacts, userinfo_claims
from mssante_conformance.psc.clients import AUTH_METHODS
from mssante_conformance.psc.discovery import (AUTH_PREFIX, ENDPOINT_PATHS, FOREIGN_REALM_PATH, REALM_PATH,
                                               STANDARD_DISCOVERY_PATH, WALLET_DISCOVERY_PATH,
                                               foreign_metadata, provider_metadata)
from mssante_conformance.psc.oauth_server import new_session_id
from mssante_conformance.psc.state import BouchonState, GrantedUser
from mssante_conformance.psc.validation import check_claims, verify_signature

SSO_COOKIE = "PSC_BOUCHON_SSO"
CLIENT_AUTH_ENDPOINTS = {"psc.token", "psc.introspect", "psc.revoke", "psc.logout"}


def oauth_error(error: str, description: str, status: int = 400, headers=None):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# Request values authlib copies into an error_description (RFC 6749: %x20-21 / %x23-5B / %x5D-7E).
ECHOED_PARAMETERS = ("response_type", "grant_type", "redirect_uri")


def _printable_ascii(value: str) -> bool:
    return all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in value)


def logout_confirmation(session_id: str | None) -> str:
    """The token a logout confirmation must carry: derived from the SSO session id (a random
    UUID in an HttpOnly, SameSite=Lax cookie), so another site can neither read nor forge it,
    and every worker computes the same one."""
    return hashlib.sha256(b"psc-bouchon-logout:" + (session_id or "").encode("utf-8", "replace")).hexdigest()


def reject_what_authlib_cannot_answer():
    """Before the realm's views (and PSC's ``/auth`` alias, see app.py)."""
    # authlib fails with a 500 (not an OAuth error) on Basic credentials that are empty or
    # not UTF-8, and on values it echoes into an error_description that RFC 6749 restricts
    # to printable ASCII (found by fuzz/fuzz_bouchon.py).
    for name in ECHOED_PARAMETERS:
        value = request.values.get(name)
        if value is not None and not _printable_ascii(value):
            if request.endpoint in ("psc.authorize", "wallet_authorize"):
                return message_page("Requête d'autorisation refusée",
                                    f"invalid_request: {name} invalide", 400)
            return oauth_error("invalid_request", f"{name} contains forbidden characters")
    if request.endpoint not in CLIENT_AUTH_ENDPOINTS:
        return None
    auth = request.headers.get("Authorization", "")
    parts = auth.split(None, 1)
    if " " in auth and len(parts) < 2:  # "Bearer ", " x": authlib unpacks two words
        return oauth_error("invalid_client", "malformed Authorization header", 401,
                           {"WWW-Authenticate": 'Basic realm="esante-wallet"'})
    if parts and parts[0].lower() == "basic":
        try:
            if len(parts) < 2:
                raise ValueError("no credentials")
            base64.b64decode(parts[1].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return oauth_error("invalid_client", "malformed HTTP Basic credentials", 401,
                               {"WWW-Authenticate": 'Basic realm="esante-wallet"'})
    return None


def message_page(title: str, message: str, status: int = 200):
    return render_template("psc_message.html", title=title, message=message), status


def create_oidc_blueprint(state: BouchonState, server) -> Blueprint:
    bp = Blueprint("psc", __name__, url_prefix=REALM_PATH, template_folder="templates")

    bp.before_request(reject_what_authlib_cannot_answer)

    @bp.after_request
    def record_call(response):
        record_noted_call(state.store, state.now(), response)
        return response

    def discovery():
        note_call("discovery")
        return jsonify(provider_metadata(state.config.issuer))

    bp.add_url_rule(WALLET_DISCOVERY_PATH, "wallet_discovery", discovery)
    bp.add_url_rule(STANDARD_DISCOVERY_PATH, "discovery", discovery)

    @bp.get(ENDPOINT_PATHS["jwks_uri"])
    def jwks():
        note_call("jwks")
        return jsonify(keys=[state.keys.psc.public_jwk])

    def authorize_error(error: OAuth2Error):
        if error.redirect_uri:
            return server.handle_error_response(None, error)
        return message_page("Requête d'autorisation refusée",
                            f"{error.error}: {error.description or ''}", 400)

    def authorize():
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            return authorize_error(error)
        if request.method == "POST":
            if request.form.get("refuser"):
                return server.create_authorization_response(grant_user=None, grant=grant)
            identity = state.identity(request.form.get("idnat", ""))
            if identity is None:
                return render_login(400)
            auth_mode = request.form.get("auth_mode")
            auth_mode = auth_mode if auth_mode in AUTH_MODES else "CARD"
            now = state.now()
            session_id = new_session_id()
            state.store.create_session(session_id, identity.idnat, auth_mode, now)
            user = GrantedUser(identity, SessionFacts(session_id, int(now), "", auth_mode))
            response = server.create_authorization_response(grant_user=user, grant=grant)
            response.set_cookie(SSO_COOKIE, session_id, httponly=True, samesite="Lax", path=AUTH_PREFIX)
            return response
        prompt = request.args.get("prompt", "")
        sso = state.live_session(request.cookies.get(SSO_COOKIE))
        if sso and prompt != "login":  # single sign-on: the person is already identified
            state.store.touch_session(sso.session_id, state.now())
            return server.create_authorization_response(
                grant_user=state.granted_user(sso.session_id), grant=grant)
        if prompt == "none":
            error = OAuth2Error(error="login_required", redirect_uri=grant.redirect_uri,
                                state=request.args.get("state"))
            return server.handle_error_response(None, error)
        return render_login(200)

    def render_login(status):
        action = request.full_path if request.query_string else request.path
        return render_template("psc_login.html", identities=state.identities, action=action,
                               client_id=request.values.get("client_id", "")), status

    bp.add_url_rule(ENDPOINT_PATHS["authorization_endpoint"], "authorize", authorize, methods=["GET", "POST"])

    @bp.post(ENDPOINT_PATHS["token_endpoint"])
    def token():
        return server.create_token_response()

    @bp.route(ENDPOINT_PATHS["userinfo_endpoint"], methods=["GET", "POST"])
    def userinfo():
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else request.form.get("access_token")
        note_call("userinfo", token=bearer)
        challenge = 'Bearer realm="esante-wallet"'
        if not bearer:
            return oauth_error("invalid_request", "missing bearer token", 401,
                               {"WWW-Authenticate": challenge})
        verdict = state.judge_access_token(bearer)
        g.token_verdict = verdict.why
        if verdict.claims is not None:
            note_call("userinfo", client_id=verdict.claims.get("azp"), token=bearer)
        if not verdict.active:
            return oauth_error("invalid_token", "token is not active", 401,
                               {"WWW-Authenticate": f'{challenge}, error="invalid_token"'})
        claims = verdict.claims
        identity = state.identity(str(claims.get("SubjectNameID") or claims.get("preferred_username")))
        if identity is None:
            return jsonify(sub=claims.get("sub"), preferred_username=claims.get("preferred_username"))
        return jsonify(userinfo_claims(identity))

    @bp.post(ENDPOINT_PATHS["introspection_endpoint"])
    def introspect():
        note_call("introspection", client_id=attempted_client_id(), token=request.form.get("token"))
        return server.create_endpoint_response("introspection")

    @bp.post(ENDPOINT_PATHS["revocation_endpoint"])
    def revoke():
        note_call("revocation", client_id=attempted_client_id(), token=request.form.get("token"))
        return server.create_endpoint_response("revocation")

    @bp.route(ENDPOINT_PATHS["end_session_endpoint"], methods=["GET", "POST"])
    def logout():
        """RP-initiated logout. A valid ``id_token_hint`` says which relying party asks; without
        one, a GET only shows a confirmation form, whose POST must carry a token bound to the SSO
        session: an image or a link on another site cannot log the person out."""
        values = request.values
        if request.method == "POST" and values.get("refresh_token") and not values.get("id_token_hint"):
            return logout_with_refresh_token(values.get("refresh_token"))
        session_id, client = request.cookies.get(SSO_COOKIE), None
        hint = values.get("id_token_hint")
        confirmed = False
        if hint:
            verdict = verify_signature(hint, state.keys.psc)
            if verdict.active:
                verdict = check_claims(verdict.claims, issuer=state.config.issuer,
                                       now=state.now(), check_time=False)
            if not verdict.active:
                return message_page("Déconnexion refusée", "invalid_request: id_token_hint invalide", 400)
            session_id = verdict.claims.get("sid") or session_id
            client = state.clients.get(str(verdict.claims.get("aud")))
            confirmed = True
        if values.get("client_id"):
            client = state.clients.get(values.get("client_id"))
        target = values.get("post_logout_redirect_uri")
        if target and (client is None or not client.check_redirect_uri(target)):
            return message_page("Déconnexion refusée",
                                "invalid_request: post_logout_redirect_uri non autorisée", 400)
        if not confirmed:
            expected = logout_confirmation(request.cookies.get(SSO_COOKIE))
            given = request.form.get("confirmation", "") if request.method == "POST" else ""
            if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
                kept = {k: values.get(k) for k in ("client_id", "post_logout_redirect_uri", "state")
                        if isinstance(values.get(k), str) and values.get(k)}
                return render_template("psc_logout.html", confirmation=expected, kept=kept,
                                       action=request.path), 400 if request.method == "POST" else 200
        if isinstance(session_id, str):
            state.store.end_session(session_id)
        if target:
            if values.get("state"):
                target = add_params_to_uri(target, [("state", values.get("state"))])
            response = redirect(target)
        else:
            response = message_page("Déconnexion", "Vous êtes déconnecté de Pro Santé Connect "
                                    "(bouchon de test).")
            response = make_response(response)
        response.delete_cookie(SSO_COOKIE, path=AUTH_PREFIX)
        return response

    def logout_with_refresh_token(refresh_token):
        try:
            client = server.authenticate_client(server.create_oauth2_request(None),
                                                list(AUTH_METHODS), "logout")
        except OAuth2Error as error:
            return server.handle_error_response(None, error)
        stored = state.store.get_refresh_token(refresh_token)
        if stored is None or stored.client_id != client.client_id:
            return oauth_error("invalid_grant", "unknown refresh token")
        state.store.end_session(stored.session_id)
        return "", 204

    return bp


def create_foreign_blueprint(state: BouchonState) -> Blueprint:
    """Another identity provider, with its own issuer and key: what foreign_issuer tokens name."""
    bp = Blueprint("foreign_idp", __name__, url_prefix=FOREIGN_REALM_PATH)

    @bp.after_request
    def record_call(response):
        record_noted_call(state.store, state.now(), response)
        return response

    @bp.get(STANDARD_DISCOVERY_PATH)
    def discovery():
        note_call("foreign_discovery")
        return jsonify(foreign_metadata(state.config.foreign_issuer))

    @bp.get(ENDPOINT_PATHS["jwks_uri"])
    def jwks():
        note_call("foreign_jwks")
        return jsonify(keys=[state.keys.foreign.public_jwk])

    return bp
