"""OAuth2 clients of the bouchon: the operator's (introspection) and the LPS test client.

Stored in ``<data-dir>/clients.json`` (mode 0600), created on first start with random secrets
and reused; the user may add clients there (``{"client_id": {"secret": …, "redirect_uris": […],
"grant_types": […], "introspection": false}}``). Only clients marked ``"introspection": true``
(the operator client by default) may call the introspection endpoint: introspection tells who a
token belongs to, which is the operator's business, not a relying party's. Redirect URIs on a loopback host are accepted for every client, as
RFC 8252 allows native apps (Thunderbird, test relying parties) to use any loopback port.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

OPERATOR_CLIENT_ID = "operateur-reference"
LPS_CLIENT_ID = "lps-test"
CLIENTS_FILE = "clients.json"
ALL_GRANTS = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def is_loopback_uri(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.fragment:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Client:
    """An OAuth2 client (implements what authlib's ClientMixin asks)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ALL_GRANTS
    introspection: bool = False  # may call the introspection endpoint (operator clients only)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris or is_loopback_uri(redirect_uri)

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(self.client_secret.encode(), str(client_secret).encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in AUTH_METHODS

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


def may_introspect(client: Client) -> bool:
    """May ``client`` use the introspection endpoint? The one predicate both the authlib
    endpoint and the WSGI fast path (hot_paths.py) consult, so the two never disagree."""
    return client.introspection is True  # operator clients only (the clients file says which)


class ClientsError(ValueError):
    pass


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def load_clients(data_dir: Path) -> tuple[dict[str, Client], bool]:
    """The registry, and whether it was just created (secrets never shown before)."""
    path = Path(data_dir) / CLIENTS_FILE
    created = False
    if not path.exists():
        document = {
            OPERATOR_CLIENT_ID: {"secret": _new_secret(), "redirect_uris": [],
                                 "grant_types": ["client_credentials"], "introspection": True},
            LPS_CLIENT_ID: {"secret": _new_secret(), "redirect_uris": [],
                            "grant_types": list(ALL_GRANTS)},
        }
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2)
            created = True
        except FileExistsError:
            pass
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ClientsError(f"{path}: illisible ({exc})") from None
    if not isinstance(document, dict):
        raise ClientsError(f"{path}: objet JSON attendu")
    clients = {}
    for client_id, entry in document.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("secret"), str):
            raise ClientsError(f"{path}: client {client_id!r} sans 'secret'")
        clients[client_id] = Client(
            client_id=client_id, client_secret=entry["secret"],
            redirect_uris=tuple(entry.get("redirect_uris") or ()),
            grant_types=tuple(entry.get("grant_types") or ALL_GRANTS),
            # files written before the attribute existed: their operator client keeps the right
            introspection=entry.get("introspection", client_id == OPERATOR_CLIENT_ID) is True)
    for required in (OPERATOR_CLIENT_ID, LPS_CLIENT_ID):
        if required not in clients:
            raise ClientsError(f"{path}: client {required!r} manquant")
    return clients, created
