"""What makes a token "active" at the bouchon, as PSC/Keycloak decides it. Pure logic.

Active = a JWT signed RS256 by *this* bouchon's PSC key (header kid = PSC kid, no embedded
key), issuer = the PSC realm, not expired, not before its nbf/iat, jti not revoked, and its SSO
session (if the bouchon knows it) still alive. Claims are not otherwise judged: a token without
SubjectNameID or with an unknown azp is still active, as Keycloak would say.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mssante_conformance.psc.keys import SigningKey

CLOCK_SKEW_S = 5
FORBIDDEN_HEADER_PARAMS = ("jwk", "jku", "x5u", "x5c", "crit")


@dataclass(frozen=True)
class Verdict:
    active: bool
    why: str  # "ok" or the first reason it is inactive (for the call log, never sent to the RP)
    claims: dict | None = None


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode((segment + "=" * (-len(segment) % 4)).encode("ascii"))


def _b64json(segment: str) -> dict:
    value = json.loads(_b64(segment))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def verify_signature(token: str, key: SigningKey) -> Verdict:
    """Signature and header checks only (no time, issuer or revocation)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
        return Verdict(False, "not_a_jws")
    try:
        header = _b64json(token.split(".")[0])
    except (ValueError, UnicodeError):
        return Verdict(False, "malformed_header")
    if header.get("alg") != "RS256":
        return Verdict(False, "alg_not_rs256")
    if header.get("kid") != key.kid:
        return Verdict(False, "unknown_kid")
    if any(p in header for p in FORBIDDEN_HEADER_PARAMS):
        return Verdict(False, "embedded_key_header")
    # RS256 straight on OpenSSL (what joserfc's RS256 verify does, without its registry work:
    # introspection runs this once per call). The signature covers the exact received bytes.
    head, payload, signature = token.split(".")
    try:
        key.key.public_key.verify(_b64(signature), f"{head}.{payload}".encode("ascii"),
                                  padding.PKCS1v15(), hashes.SHA256())
        claims = json.loads(_b64(payload))
    except (InvalidSignature, ValueError, TypeError, UnicodeError):
        return Verdict(False, "bad_signature")
    if not isinstance(claims, dict):
        return Verdict(False, "malformed_claims")
    return Verdict(True, "ok", claims)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_claims(claims: dict, *, issuer: str, now: float, check_time: bool = True) -> Verdict:
    if claims.get("iss") != issuer:
        return Verdict(False, "wrong_issuer", claims)
    if check_time:
        if not _number(claims.get("exp")) or claims["exp"] <= now:
            return Verdict(False, "expired", claims)
        if _number(claims.get("nbf")) and claims["nbf"] > now + CLOCK_SKEW_S:
            return Verdict(False, "not_yet_valid", claims)
        if _number(claims.get("iat")) and claims["iat"] > now + CLOCK_SKEW_S:
            return Verdict(False, "issued_in_future", claims)
    return Verdict(True, "ok", claims)
