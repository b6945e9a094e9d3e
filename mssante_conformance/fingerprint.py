"""Fingerprints: the only form in which a token, secret or key may be printed or stored."""

from __future__ import annotations

import hashlib

PREFIX = "sha256:"
HEX_CHARS = 12


def fingerprint(secret: str | bytes) -> str:
    """``sha256:`` and the first 12 hex digits of the SHA-256 of ``secret``.

    12 hex digits (48 bits) tell tokens of one run apart without letting anyone recover
    or replay them.
    """
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    return PREFIX + hashlib.sha256(secret).hexdigest()[:HEX_CHARS]
