"""WSGI fast paths in front of the Flask app, for the calls a loaded platform makes most.

Theory of operation
-------------------
A relying party under load calls four things: discovery, JWKS, the token endpoint
(client_credentials) and validating introspection. Through Flask + authlib each costs several
hundred microseconds of framework work around a few tens of microseconds of real work (one
RSA verify or sign, one or two SQLite statements). This middleware answers exactly the
ordinary, well-formed cases of those four itself and hands **everything else** to Flask
unchanged (errors, unusual parameters, refresh tokens, unauthenticated clients): the Flask views
stay the reference behaviour, and ``tests/psc/test_hot_paths.py`` compares the two answer for
answer.

What is *not* skipped: introspection still verifies signature, header, issuer, expiry and
revocation (:meth:`BouchonState.judge_access_token`, the same function the Flask path uses),
answers only a client that :func:`may_introspect` allows (the predicate the authlib endpoint
consults too), and records the call in the relying-party call log with the same summary as
:func:`calllog.record_noted_call`.

Discovery and JWKS are precomputed bytes (serialised as Flask's ``jsonify`` would) with an
``ETag`` and ``Cache-Control: public, max-age=300``; ``If-None-Match`` gets a 304. Each fetch is
still recorded in the call log: which relying party fetched the JWKS, and when, is evidence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
from urllib.parse import parse_qsl

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.calllog import ANSWER_FIELDS
from mssante_conformance.psc.clients import may_introspect
from mssante_conformance.psc.discovery import (ENDPOINT_PATHS, REALM_PATH, STANDARD_DISCOVERY_PATH,
                                               WALLET_DISCOVERY_PATH, provider_metadata)
from mssante_conformance.psc.store import RelyingPartyCall

MAX_BODY = 64 * 1024  # the app's MAX_CONTENT_LENGTH: bigger bodies go to Flask, which refuses them
CACHE_CONTROL = "public, max-age=300"
TOKEN_FORM_KEYS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
INTROSPECTION_FORM_KEYS = frozenset({"token", "token_type_hint", "client_id", "client_secret"})
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class _Fallback(Exception):
    """Not an ordinary case: Flask answers."""


def _form(environ) -> tuple[dict[str, str], bytes]:
    """The urlencoded body as a dict (duplicate or non-UTF-8 keys: fall back), and its bytes."""
    if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise _Fallback
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Fallback from None
    if not 0 < length <= MAX_BODY:
        raise _Fallback
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # Flask can still read it if we fall back
    environ["CONTENT_LENGTH"] = str(len(body))
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _Fallback from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise _Fallback
    return form, body


def _credentials(environ, form) -> tuple[str, str, str]:
    """``(client_id, secret, method)`` from exactly one of HTTP Basic or the form."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    in_form = "client_id" in form or "client_secret" in form
    if auth:
        if in_form or auth[:6].lower() != "basic ":
            raise _Fallback
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _Fallback from None
        client_id, sep, secret = decoded.partition(":")
        if not sep or "%" in decoded:  # authlib would percent-decode: let it
            raise _Fallback
        return client_id, secret, "client_secret_basic"
    if not in_form:
        raise _Fallback
    return form.get("client_id", ""), form.get("client_secret", ""), "client_secret_post"


class HotPaths:
    """WSGI middleware: ``HotPaths(flask_app, state, server)``."""

    def __init__(self, app, state, server, json_provider):
        self.app = app
        self.json_provider = json_provider
        self.state = state
        self.server = server
        self.introspection = server._endpoints["introspection"][0]
        self._documents: dict[str, tuple[str, bytes, str]] = {}  # path -> (call, body, etag)
        self._documents_for: str | None = None
        self._token_path = REALM_PATH + ENDPOINT_PATHS["token_endpoint"]
        self._introspection_path = REALM_PATH + ENDPOINT_PATHS["introspection_endpoint"]

    def __call__(self, environ, start_response):
        if not self.state.config.public_url:  # the first request must teach Flask the URL
            return self.app(environ, start_response)
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        try:
            if method in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
                document = self._document(path)
                if document is not None:
                    return self._serve_document(environ, start_response, method, *document)
            elif method == "POST" and path == self._token_path:
                return self._token(environ, start_response)
            elif method == "POST" and path == self._introspection_path:
                return self._introspect(environ, start_response)
        except _Fallback:
            pass
        return self.app(environ, start_response)

    # ------------------------------------------------------------------ discovery, JWKS
    def _document(self, path: str):
        issuer = self.state.config.issuer
        if self._documents_for != issuer:
            def jsonify(value) -> bytes:  # exactly the bytes Flask's jsonify writes
                return self.json_provider.response(value).get_data()

            metadata = jsonify(provider_metadata(issuer))
            jwks = jsonify({"keys": [self.state.keys.psc.public_jwk]})
            documents = {}
            for rel, call, body in ((WALLET_DISCOVERY_PATH, "discovery", metadata),
                                    (STANDARD_DISCOVERY_PATH, "discovery", metadata),
                                    (ENDPOINT_PATHS["jwks_uri"], "jwks", jwks)):
                documents[REALM_PATH + rel] = (call, body,
                                               '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
            self._documents, self._documents_for = documents, issuer
        return self._documents.get(path)

    def _serve_document(self, environ, start_response, method, call, body, etag):
        not_modified = etag in environ.get("HTTP_IF_NONE_MATCH", "")
        status = 304 if not_modified else 200
        self._record(call, None, None, {"status": status})
        headers = [("ETag", etag), ("Cache-Control", CACHE_CONTROL)]
        if not_modified:
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [b"" if method == "HEAD" else body]

    # ------------------------------------------------------------------ token, introspection
    def _client(self, environ, form, endpoint: str):
        client_id, secret, method = _credentials(environ, form)
        client = self.state.clients.get(client_id)
        if (client is None or not secret or not client.check_client_secret(secret)
                or not client.check_endpoint_auth_method(method, endpoint)):
            raise _Fallback  # Flask answers invalid_client (and logs what it logs)
        return client

    def _token(self, environ, start_response):
        form, _ = _form(environ)
        if form.keys() - TOKEN_FORM_KEYS or form.get("grant_type") != "client_credentials":
            raise _Fallback
        client = self._client(environ, form, "token")
        if not client.check_grant_type("client_credentials"):
            raise _Fallback
        scope = client.get_allowed_scope(form.get("scope"))
        token = self.server.generate_token("client_credentials", client, user=None, scope=scope,
                                           include_refresh_token=False)
        return self._json(start_response, token, NO_STORE)

    def _introspect(self, environ, start_response):
        form, _ = _form(environ)
        token_string = form.get("token")
        if (form.keys() - INTROSPECTION_FORM_KEYS or not token_string
                or form.get("token_type_hint", "access_token") != "access_token"
                or token_string.count(".") != 2):
            raise _Fallback  # refresh tokens, odd hints, missing token: the authlib path
        client = self._client(environ, form, "introspection")
        if not may_introspect(client):
            raise _Fallback
        verdict = self.state.judge_access_token(token_string, check_time=True)
        if verdict.active:
            from mssante_conformance.psc.oauth_server import AccessToken

            payload = self.introspection.create_introspection_payload(
                AccessToken(verdict.claims, True))
        else:
            payload = {"active": False}
        answer = {"status": 200, **{k: payload[k] for k in ANSWER_FIELDS
                                    if k in payload and k != "client_id"}, "why": verdict.why}
        self._record("introspection", client.client_id, fingerprint(token_string), answer)
        return self._json(start_response, payload, NO_STORE)

    def _json(self, start_response, payload: dict, extra_headers):
        body = json.dumps(payload).encode("utf-8")
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *extra_headers])
        return [body]

    def _record(self, endpoint, client_id, token_fp, answer) -> None:
        self.state.store.record_call(RelyingPartyCall(self.state.now(), endpoint, client_id,
                                                      token_fp, answer))


def install(app, state, server) -> None:
    """Put the fast paths in front of ``app`` (its ``wsgi_app``, so Flask's test client uses them)."""
    app.wsgi_app = HotPaths(app.wsgi_app, state, server, app.json)


__all__ = ["HotPaths", "install"]
