"""The operator-side token adapter: where the reference operator decides on a PSC token.

Why here (and not Dovecot's oauth2 passdb comparing an attribute): the PSC token carries the
professional's IDNAT (``SubjectNameID``), never the BAL address, and one professional may
hold several BALs (personal, practice, organisational). The decision "may IDNAT X open BAL
Y" needs the operator's directory, with the BAL *and* the token together.

How Dovecot reaches it: Dovecot's XOAUTH2/OAUTHBEARER mechanisms hand the token to the passdb
chain as a password. A checkpassword passdb would receive both, but Dovecot 2.3 refuses
checkpassword requests over 512 bytes ("Username+password combination too long") and PSC
tokens are 1–2 KB. So the oauth2 passdb is used in *password grant* mode
(``use_grant_password = yes``): it POSTs ``grant_type=password&username=<BAL>&password=<token>``
with its client id/secret to ``grant_url`` — this adapter. The adapter introspects the token at
the bouchon (RFC 7662, HTTP Basic with the operator client), checks the directory, and
answers 200 ``{"access_token": <random>, "token_type": "Bearer", "bal": <BAL>}`` (Dovecot then
checks ``username_attribute = bal`` against the login name) or 400 ``{"error":
"invalid_grant"}`` (authentication failed); 503 when the bouchon cannot be reached (Dovecot
answers ``[UNAVAILABLE]``). Over https the adapter verifies the bouchon's certificate, against
``config["ca_file"]`` when given (a bouchon started with ``--tls-cert``), else the system store;
a certificate that does not verify is a temporary failure (503), never an acceptance.

The adapter runs as a thread of the process that started the reference operator, on
127.0.0.1; every decision is logged with the token's fingerprint only. The rule itself is
:func:`decide`, without I/O.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.reference.directory import Directory

POLICIES = ("introspect", "any", "no_holder", "ignore_expiry")
INTROSPECTION_TIMEOUT_S = 5.0
MAX_INPUT = 65536


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str
    idnat: str = ""


def decide(policy: str, bal: str, introspection: dict | None, directory: Directory,
           issuer: str = "") -> Decision:
    """The adapter's rule, without I/O. ``introspection`` is the RFC 7662 answer (None when
    the policy does not introspect)."""
    mailbox = directory.find(bal)
    if mailbox is None:
        return Decision(False, "unknown BAL")
    if policy == "any":  # DEVIATION accept_any_token
        return Decision(True, "policy any: token not validated")
    if not isinstance(introspection, dict) or introspection.get("active") is not True:
        return Decision(False, "token inactive at introspection")
    if issuer and introspection.get("iss") not in (None, issuer):
        return Decision(False, "unexpected issuer")
    idnat = introspection.get("SubjectNameID")
    if not isinstance(idnat, str) or not idnat:
        return Decision(False, "no SubjectNameID in token")
    if policy == "no_holder":  # DEVIATION no_holder_check
        return Decision(True, "policy no_holder: IDNAT not checked", idnat)
    if idnat not in mailbox.holders:
        return Decision(False, "IDNAT does not hold this BAL", idnat)
    return Decision(True, "holder of the BAL", idnat)


def _tls_context(config: dict) -> ssl.SSLContext | None:
    """Certificate verification for an https bouchon: its CA when given, else the system store."""
    ca_file = config.get("ca_file")
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else None


def _fetch(config: dict, request) -> bytes:
    with urllib.request.urlopen(request, timeout=INTROSPECTION_TIMEOUT_S,
                                context=_tls_context(config)) as response:
        return response.read(MAX_INPUT)


def introspect(config: dict, token: str) -> dict:
    """POST the token to the bouchon's introspection endpoint (HTTP Basic client auth)."""
    credentials = f"{config['client_id']}:{config['client_secret']}".encode()
    request = urllib.request.Request(
        config["introspection_endpoint"],
        data=urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode(),
                 "Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"},
        method="POST",
    )
    answer = json.loads(_fetch(config, request))
    if not isinstance(answer, dict):
        raise ValueError("introspection answer is not a JSON object")
    return answer


def validate_ignoring_expiry(config: dict, token: str) -> dict | None:
    """DEVIATION no_expiry_check: check signature (PSC JWKS) and issuer, ignore ``exp``.

    Returns claims shaped like an active introspection answer, or None. Only used when the
    bouchon said inactive, so the one difference from ``introspect`` is expired tokens."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = KeySet.import_key_set(json.loads(_fetch(config, config["jwks_uri"])))
    try:
        claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
    except Exception:  # any JOSE failure means "not a valid PSC token"
        return None
    if claims.get("iss") != config.get("issuer"):
        return None
    now = time.time()
    # Only expiry is forgiven: a revoked or otherwise inactive token that has not expired yet
    # stays refused, so this profile differs from conformant in exactly one way.
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] >= now:
        return None
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 30:
        return None
    if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now + 30:
        return None
    return {**claims, "active": True}


def _log(log_file: str, bal: str, token: str, decision: Decision) -> None:
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "bal": bal,
                       "token": fingerprint(token), "accepted": decision.accepted,
                       "reason": decision.reason, "idnat": decision.idnat})
    try:
        with open(log_file, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        pass


def run(config: dict, directory: Directory, bal: str, token: str) -> Decision:
    """Introspect (unless the policy says not to) and decide. Raises OSError/ValueError when
    the bouchon cannot be asked."""
    policy = config.get("policy", "introspect")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}")
    if not token:
        return Decision(False, "empty token")
    answer = None
    if policy != "any":
        answer = introspect(config, token)
        if policy == "ignore_expiry" and answer.get("active") is not True:
            answer = validate_ignoring_expiry(config, token) or answer
    return decide(policy, bal, answer, directory, config.get("issuer", ""))


class GrantAdapter:
    """The password-grant endpoint Dovecot's oauth2 passdb calls. ``start()`` / ``stop()``.

    ``config``: introspection_endpoint, client_id, client_secret (the bouchon's operator
    client), jwks_uri, issuer, ca_file (None: plain http or the system store), policy,
    log_file. ``dovecot_client``: (id, secret) Dovecot must present, so that only our Dovecot
    can use the adapter."""

    def __init__(self, config: dict, directory: Directory, dovecot_client: tuple[str, str],
                 host: str = "127.0.0.1"):
        self.config, self.directory, self.dovecot_client = config, directory, dovecot_client
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                adapter._handle(self)

            def log_message(self, *args):  # the decisions go to our own log, without tokens
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}/grant"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="grant-adapter",
                                        daemon=True)

    def start(self) -> "GrantAdapter":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever on a server never started
            self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if request.path != "/grant" or not 0 < length <= MAX_INPUT:
            return _reply(request, 400, {"error": "invalid_request"})
        form = urllib.parse.parse_qs(request.rfile.read(length).decode("utf-8", "replace"))
        field = lambda name: (form.get(name) or [""])[0]
        client_ok = hmac.compare_digest(field("client_id"), self.dovecot_client[0]) and \
            hmac.compare_digest(field("client_secret"), self.dovecot_client[1])
        if not client_ok or field("grant_type") != "password":
            return _reply(request, 401, {"error": "invalid_client"})
        bal, token = field("username").strip().lower(), field("password")
        try:
            decision = run(self.config, self.directory, bal, token)
        except (OSError, ValueError) as exc:
            _log(self.config["log_file"], bal, token, Decision(False, f"temporary failure: {type(exc).__name__}"))
            return _reply(request, 503, {"error": "temporarily_unavailable"})
        _log(self.config["log_file"], bal, token, decision)
        if not decision.accepted:
            return _reply(request, 400, {"error": "invalid_grant"})
        return _reply(request, 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                                     "expires_in": 60, "bal": bal})


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
