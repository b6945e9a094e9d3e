"""SASL strings for bearer tokens (XOAUTH2, OAUTHBEARER) and the server's error challenge.

Pure functions, no I/O.

- XOAUTH2 (Google; MSS 7.2/7.4): ``base64("user=" BAL "\\x01auth=Bearer " token "\\x01\\x01")``.
- OAUTHBEARER (RFC 7628): ``base64("n,a=" user "," "\\x01host=" h "\\x01port=" p
  "\\x01auth=Bearer " token "\\x01\\x01")``.
- On failure the server sends a continuation carrying ``base64(JSON)`` such as
  ``{"status":"401","schemes":"bearer","scope":"mail"}``; the client must answer with an
  empty line (XOAUTH2) or ``\\x01`` (OAUTHBEARER), then the server fails the command.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"

# What the client sends after an OAUTHBEARER error challenge (RFC 7628 §3.2.3): a lone ^A.
OAUTHBEARER_ABORT = base64.b64encode(b"\x01").decode("ascii")


def xoauth2_message(user: str, token: str) -> bytes:
    """The XOAUTH2 client message before base64 (never store it: it holds the token)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode("utf-8")


def xoauth2_initial_response(user: str, token: str) -> str:
    """The base64 XOAUTH2 initial response, ready for ``AUTHENTICATE XOAUTH2 <here>``."""
    return base64.b64encode(xoauth2_message(user, token)).decode("ascii")


def oauthbearer_initial_response(user: str, token: str, host: str | None = None, port: int | None = None) -> str:
    """The base64 OAUTHBEARER (RFC 7628) initial response."""
    fields = []
    if host:
        fields.append(f"host={host}")
    if port:
        fields.append(f"port={port}")
    fields.append(f"auth=Bearer {token}")
    gs2 = f"n,a={_saslname(user)},"
    message = gs2 + "\x01" + "\x01".join(fields) + "\x01\x01"
    return base64.b64encode(message.encode("utf-8")).decode("ascii")


def _saslname(user: str) -> str:
    # RFC 5801: ',' and '=' are escaped in the authzid
    return user.replace("=", "=3D").replace(",", "=2C")


@dataclass(frozen=True)
class BearerCredentials:
    """What a client message carries: the user and the token (server side, for test peers)."""

    user: str
    token: str


def parse_xoauth2(payload_b64: str) -> BearerCredentials | None:
    """Decode an XOAUTH2 client message; ``None`` if it is not well-formed."""
    raw = b64decode_lenient(payload_b64)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.endswith("\x01\x01"):
        return None
    fields = dict(part.split("=", 1) for part in text[:-2].split("\x01") if "=" in part)
    auth = fields.get("auth", "")
    if not fields.get("user") or not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
        return None
    return BearerCredentials(fields["user"], auth[len("Bearer ") :])


@dataclass(frozen=True)
class ErrorChallenge:
    """The server's XOAUTH2/OAUTHBEARER error challenge, decoded.

    ``status`` (e.g. ``"401"``), ``schemes`` (``"bearer"``), ``scope`` (``"mail"``), all
    ``None`` when absent; ``raw``: the base64 text as received; ``json_valid``: whether it
    decoded to a JSON object at all.
    """

    raw: str
    json_valid: bool
    status: str | None = None
    schemes: str | None = None
    scope: str | None = None

    def to_dict(self) -> dict:
        return {
            "raw": self.raw,
            "json_valid": self.json_valid,
            "status": self.status,
            "schemes": self.schemes,
            "scope": self.scope,
        }


def decode_error_challenge(payload_b64: str) -> ErrorChallenge:
    """Decode the continuation payload of a failed bearer authentication.

    Never raises: a payload that is not base64 JSON gives ``json_valid=False``.
    """
    raw = payload_b64.strip()
    decoded = b64decode_lenient(raw)
    if decoded is None:
        return ErrorChallenge(raw, False)
    try:
        data = json.loads(decoded.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ErrorChallenge(raw, False)
    if not isinstance(data, dict):
        return ErrorChallenge(raw, False)

    def text(key: str) -> str | None:
        value = data.get(key)
        return None if value is None else str(value)

    return ErrorChallenge(raw, True, text("status"), text("schemes"), text("scope"))


def b64decode_lenient(text: str) -> bytes | None:
    """Strict base64 alphabet, padding optional; ``None`` if not base64."""
    text = text.strip()
    if not text:
        return b""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
