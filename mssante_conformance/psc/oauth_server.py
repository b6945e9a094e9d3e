"""authlib wiring: grants (code + PKCE S256, refresh, client credentials), introspection,
revocation, and the PSC-shaped token generator. Views live in oidc_views.py."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import g

from mssante_conformance.psc.claims import access_token_claims, id_token_claims, service_token_claims
from mssante_conformance.psc.clients import AUTH_METHODS, may_introspect
from mssante_conformance.psc.state import BouchonState, GrantedUser
from mssante_conformance.psc.store import StoredCode, StoredRefreshToken, digest
from mssante_conformance.psc.variants import sign_rs256

REFRESH_TOKEN_BYTES = 48


@dataclass
class AuthorizationCode:
    code: str
    stored: StoredCode

    def get_redirect_uri(self):
        return self.stored.redirect_uri

    def get_scope(self):
        return self.stored.scope

    def get_nonce(self):
        return self.stored.nonce


@dataclass
class RefreshToken:
    stored: StoredRefreshToken

    def check_client(self, client):
        return client.client_id == self.stored.client_id

    def get_scope(self):
        return self.stored.scope

    def is_expired(self):
        return False  # dies with its session, checked when it is looked up

    def is_revoked(self):
        return self.stored.revoked


@dataclass
class AccessToken:
    """A verified JWT access token (for introspection and revocation)."""

    claims: dict
    active: bool

    def check_client(self, client):
        return self.claims.get("azp") == client.client_id

    def get_scope(self):
        return self.claims.get("scope", "")

    def is_expired(self):
        return not self.active

    def is_revoked(self):
        return not self.active


class PscCodeChallenge(CodeChallenge):
    """PKCE is mandatory at PSC, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing code_challenge")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE: only the S256 method is accepted")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.stored.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.stored.code_challenge_method


def build_server(app, state: BouchonState) -> AuthorizationServer:
    # authlib logs issued tokens at DEBUG level: keep its logger above that, always.
    logging.getLogger("authlib").setLevel(logging.INFO)

    def query_client(client_id):
        return state.clients.get(client_id) if isinstance(client_id, str) else None

    def save_token(token, request):
        user = request.user
        if token.get("refresh_token") and isinstance(user, GrantedUser):
            state.store.save_refresh_token(token["refresh_token"], request.client.client_id,
                                           token.get("scope", ""), user.session.session_id,
                                           user.session.nonce)

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)

    def generate(grant_type, client, user=None, scope=None, expires_in=None,
                 include_refresh_token=True):
        now = int(state.now())
        lifetime = state.config.token_lifetime_s
        scope = scope or ""
        if not isinstance(user, GrantedUser):
            claims = service_token_claims(issuer=state.config.issuer, client_id=client.client_id,
                                          iat=now, lifetime_s=lifetime, scope=scope)
            return {"token_type": "Bearer", "access_token": sign_rs256(claims, state.keys.psc),
                    "expires_in": lifetime, "scope": scope}
        claims = access_token_claims(issuer=state.config.issuer, identity=user.identity,
                                     azp=client.client_id, session=user.session, iat=now,
                                     lifetime_s=lifetime, scope=scope)
        token = {"token_type": "Bearer", "access_token": sign_rs256(claims, state.keys.psc),
                 "expires_in": lifetime, "scope": scope, "session_state": user.session.session_id,
                 "not-before-policy": 0, "refresh_expires_in": state.config.session_idle_s}
        if include_refresh_token:
            token["refresh_token"] = generate_token(REFRESH_TOKEN_BYTES)
        if "openid" in scope.split():
            token["id_token"] = sign_rs256(
                id_token_claims(issuer=state.config.issuer, identity=user.identity,
                                client_id=client.client_id, session=user.session, iat=now,
                                lifetime_s=lifetime), state.keys.psc)
        return token

    server.register_token_generator("default", generate)

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

        def save_authorization_code(self, code, request):
            data = request.payload.data
            user: GrantedUser = request.user
            state.store.save_code(code, StoredCode(
                client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "", nonce=data.get("nonce") or "",
                session_id=user.session.session_id, code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=state.now() + state.config.code_lifetime_s))

        def query_authorization_code(self, code, client):
            stored = state.store.get_code(code)
            if stored and stored.client_id == client.client_id and stored.expires_at > state.now():
                return AuthorizationCode(code, stored)
            return None

        def delete_authorization_code(self, authorization_code):
            state.store.delete_code(authorization_code.code)

        def authenticate_user(self, authorization_code):
            stored = authorization_code.stored
            user = state.granted_user(stored.session_id, stored.nonce)
            if user:
                state.store.touch_session(stored.session_id, state.now())
            return user

    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
        INCLUDE_NEW_REFRESH_TOKEN = True  # Keycloak rotates refresh tokens

        def authenticate_refresh_token(self, refresh_token):
            stored = state.store.get_refresh_token(refresh_token)
            if stored and not stored.revoked and state.live_session(stored.session_id):
                return RefreshToken(stored)
            return None  # -> invalid_grant: refresh tokens die with their session

        def authenticate_user(self, refresh_token):
            stored = refresh_token.stored
            user = state.granted_user(stored.session_id, stored.nonce)
            if user:
                state.store.touch_session(stored.session_id, state.now())
            return user

        def revoke_old_credential(self, refresh_token):
            state.store.revoke_refresh_token(refresh_token.stored.token_hash)

    class ClientCredentialsGrant(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def find_token(token_string, hint, check_time):
        if not isinstance(token_string, str):
            return None
        if hint != "refresh_token" and token_string.count(".") == 2:
            verdict = state.judge_access_token(token_string, check_time=check_time)
            g.token_verdict = verdict.why
            if verdict.claims is not None and (verdict.active or not check_time):
                return AccessToken(verdict.claims, verdict.active)
            if verdict.claims is not None and verdict.why in ("expired", "revoked", "not_yet_valid",
                                                               "issued_in_future", "session_ended"):
                return AccessToken(verdict.claims, False)
            return None
        stored = state.store.get_refresh_token(token_string)
        if stored:
            alive = not stored.revoked and state.live_session(stored.session_id) is not None
            g.token_verdict = "ok" if alive else "refresh_token_dead"
            return RefreshToken(stored) if alive or not check_time else None
        g.token_verdict = "unknown_token"
        return None

    class Introspection(IntrospectionEndpoint):
        CLIENT_AUTH_METHODS = list(AUTH_METHODS)

        def authenticate_token(self, request, client):
            # Checked before the token is even looked up: a relying party learns nothing.
            if not may_introspect(client):  # hot_paths.py consults the same predicate
                raise UnauthorizedClientError(
                    description="introspection is reserved to operator clients")
            return super().authenticate_token(request, client)

        def query_token(self, token_string, token_type_hint):
            return find_token(token_string, token_type_hint, check_time=True)

        def check_permission(self, token, client, request):
            return True  # the client was checked in authenticate_token

        def introspect_token(self, token):
            if isinstance(token, RefreshToken):
                return {"active": True, "typ": "Refresh", "client_id": token.stored.client_id,
                        "scope": token.stored.scope, "sid": token.stored.session_id}
            claims = dict(token.claims)
            claims.update(active=True, client_id=claims.get("azp"), token_type="Bearer")
            if "preferred_username" in claims:
                claims["username"] = claims["preferred_username"]
            return claims

    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS = list(AUTH_METHODS)

        def query_token(self, token_string, token_type_hint):
            return find_token(token_string, token_type_hint, check_time=False)

        def revoke_token(self, token, request):
            if isinstance(token, RefreshToken):
                state.store.revoke_refresh_token(token.stored.token_hash)
            elif isinstance(token.claims.get("jti"), str):
                state.store.revoke_jti(token.claims["jti"], state.now())

    server.register_grant(CodeGrant, [PscCodeChallenge(required=True)])
    server.register_grant(RefreshGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server


def new_session_id() -> str:
    return str(uuid.uuid4())


__all__ = ["build_server", "new_session_id", "digest"]
