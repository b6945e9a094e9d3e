"""Token variants: the valid PSC access token and the non-passing cases, as data + pure code.

Theory of operation: a variant is (1) a change to the claims of a valid token
(:func:`shape_claims`) and (2) a way to sign them (:data:`SIGNING`). Neither touches the store
or the network; the minter (mint.py) picks the identity, records revocations and sessions.
The table :data:`VARIANTS` says, for each variant, what it is and what the bouchon's
introspection answers for it (which is what real PSC/Keycloak would answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mssante_conformance.psc.keys import KeyRing, SigningKey

EXPIRED_AGO_S = 600  # an expired token expired ten minutes ago
NOT_YET_VALID_IN_S = 3600  # a not-yet-valid token starts being valid in one hour
WRONG_AZP = "lps-inconnu"


class TokenVariant(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    FOREIGN_ISSUER = "foreign_issuer"
    FORGED_SIGNATURE = "forged_signature"
    UNSIGNED = "unsigned"
    HS256_PUBLIC_KEY = "hs256_public_key"
    EMBEDDED_JWK = "embedded_jwk"
    TAMPERED_PAYLOAD = "tampered_payload"
    OTHER_PROFESSIONAL = "other_professional"
    REVOKED = "revoked"
    MISSING_SUBJECT_NAME_ID = "missing_subject_name_id"
    WRONG_AZP = "wrong_azp"


@dataclass(frozen=True)
class VariantSpec:
    what: str  # what the token is (developer doc, shown in evidence)
    introspection_active: bool  # what the bouchon's introspection answers


V = TokenVariant
VARIANTS: dict[TokenVariant, VariantSpec] = {
    V.VALID: VariantSpec("PSC token of the asked professional, RS256 with the PSC key, unexpired", True),
    V.EXPIRED: VariantSpec(f"as valid, but exp is {EXPIRED_AGO_S} s in the past", False),
    V.NOT_YET_VALID: VariantSpec(f"as valid, but iat and nbf are {NOT_YET_VALID_IN_S} s in the future", False),
    V.FOREIGN_ISSUER: VariantSpec("another IdP (its own issuer, key and JWKS at /auth/realms/foreign-idp)", False),
    V.FORGED_SIGNATURE: VariantSpec("PSC issuer and PSC kid, signed with an attacker's key", False),
    V.UNSIGNED: VariantSpec("alg none, empty signature", False),
    V.HS256_PUBLIC_KEY: VariantSpec("HS256 keyed with the PSC public key PEM (algorithm confusion)", False),
    V.EMBEDDED_JWK: VariantSpec("signed by an attacker key that the header carries as 'jwk'", False),
    V.TAMPERED_PAYLOAD: VariantSpec("valid PSC signature of another payload: SubjectNameID changed after signing", False),
    V.OTHER_PROFESSIONAL: VariantSpec("valid PSC token of another professional than the one asked", True),
    V.REVOKED: VariantSpec("valid PSC signature, but its jti is revoked at the bouchon", False),
    V.MISSING_SUBJECT_NAME_ID: VariantSpec("valid PSC token without the SubjectNameID claim", True),
    V.WRONG_AZP: VariantSpec(f"valid PSC token issued to an unknown client (azp={WRONG_AZP})", True),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_b64(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def shape_claims(variant: TokenVariant, claims: dict, *, foreign_issuer: str,
                 lifetime_s: int, now: int) -> dict:
    """The claims the variant carries, from the claims of a valid token issued at ``now``."""
    shaped = dict(claims)
    if variant is V.EXPIRED:
        shaped["iat"] = now - lifetime_s - EXPIRED_AGO_S
        shaped["exp"] = now - EXPIRED_AGO_S
        shaped["auth_time"] = min(shaped.get("auth_time", shaped["iat"]), shaped["iat"])
    elif variant is V.NOT_YET_VALID:
        shaped["iat"] = shaped["nbf"] = now + NOT_YET_VALID_IN_S
        shaped["exp"] = now + NOT_YET_VALID_IN_S + lifetime_s
    elif variant is V.FOREIGN_ISSUER:
        shaped["iss"] = foreign_issuer
    elif variant is V.MISSING_SUBJECT_NAME_ID:
        del shaped["SubjectNameID"]
    elif variant is V.WRONG_AZP:
        shaped["azp"] = WRONG_AZP
    return shaped


def sign_rs256(claims: dict, key: SigningKey, *, kid: str | None = None,
               extra_header: dict | None = None) -> str:
    # Straight to OpenSSL (RSASSA-PKCS1-v1_5 SHA-256, what joserfc's RS256 does): the token
    # endpoint mints one per request, and the JOSE layer's bookkeeping cost as much as the RSA.
    header = {"alg": "RS256", "typ": "JWT", "kid": kid or key.kid, **(extra_header or {})}
    signing_input = f"{_json_b64(header)}.{_json_b64(claims)}"
    signature = key.key.private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                         hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def sign_none(claims: dict) -> str:
    return f"{_json_b64({'alg': 'none', 'typ': 'JWT'})}.{_json_b64(claims)}."


def sign_hs256_with_public_pem(claims: dict, psc: SigningKey) -> str:
    # Built by hand: JOSE libraries rightly refuse a PEM public key as an HMAC secret.
    signing_input = f"{_json_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': psc.kid})}.{_json_b64(claims)}"
    mac = hmac.new(psc.public_pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def replace_payload(token: str, claims: dict) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_json_b64(claims)}.{signature}"


def sign_variant(variant: TokenVariant, claims: dict, keys: KeyRing,
                 tampered_idnat: str | None = None) -> tuple[str, dict]:
    """Token string and the claims it shows, for ``claims`` already shaped by the variant."""
    if variant is V.FOREIGN_ISSUER:
        return sign_rs256(claims, keys.foreign), claims
    if variant is V.FORGED_SIGNATURE:
        return sign_rs256(claims, keys.attacker, kid=keys.psc.kid), claims
    if variant is V.UNSIGNED:
        return sign_none(claims), claims
    if variant is V.HS256_PUBLIC_KEY:
        return sign_hs256_with_public_pem(claims, keys.psc), claims
    if variant is V.EMBEDDED_JWK:
        return sign_rs256(claims, keys.attacker,
                          extra_header={"jwk": keys.attacker.public_jwk}), claims
    if variant is V.TAMPERED_PAYLOAD:
        if not tampered_idnat:
            raise ValueError("tampered_payload needs the IDNAT to put after signing")
        signed = sign_rs256(claims, keys.psc)
        shown = {**claims, "SubjectNameID": tampered_idnat, "preferred_username": tampered_idnat,
                 "otherIds": [{"identifiant": tampered_idnat, "origine": "RPPS", "qualite": 1}]}
        return replace_payload(signed, shown), shown
    return sign_rs256(claims, keys.psc), claims
