"""Every token variant is exactly what it claims, seen by an independent JWT library (pyjwt),
and the bouchon's introspection answers it as PSC would."""

from __future__ import annotations

import json
from pathlib import Path

import jwt  # pyjwt: independent of the joserfc that signs
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc import VARIANTS, TokenVariant

from .conftest import JEAN, TIMEOUT

OTHER = "899700771191"
V = TokenVariant


@pytest.fixture(scope="module")
def jwks(bouchon):
    return requests.get(bouchon.jwks_uri, timeout=TIMEOUT).json()


@pytest.fixture(scope="module")
def psc_key(jwks):
    (key,) = jwks["keys"]
    return jwt.PyJWK(key)


def decode_psc(token, psc_key, bouchon, **options):
    return jwt.decode(token, psc_key.key, algorithms=["RS256"], issuer=bouchon.issuer,
                      options={"verify_aud": False, **options}, leeway=0)


def introspect(bouchon, token):
    client = bouchon.operator_client
    answer = requests.post(bouchon.introspection_endpoint, data={"token": token},
                           auth=(client.client_id, client.client_secret), timeout=TIMEOUT)
    assert answer.status_code == 200
    return answer.json()


def test_valid_token_is_psc_shaped(bouchon, psc_key):
    minted = bouchon.mint(V.VALID, idnat=JEAN)
    header = jwt.get_unverified_header(minted.token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": psc_key.key_id}
    claims = decode_psc(minted.token, psc_key, bouchon)
    assert claims["SubjectNameID"] == claims["preferred_username"] == JEAN
    assert claims["acr"] == "eidas1" and claims["typ"] == "Bearer"
    assert claims["scope"] == "openid scope_all" and claims["azp"] == "lps-test"
    assert claims["exp"] - claims["iat"] == 120
    assert claims["sid"] == claims["session_state"] and claims["jti"] == minted.jti
    assert claims["otherIds"] == [{"identifiant": JEAN, "origine": "RPPS", "qualite": 1}]
    assert claims["authMode"] == "CARD" and "auth_time" in claims
    assert "aud" not in claims
    assert minted.fingerprint == fingerprint(minted.token) and minted.token not in repr(minted)


def test_expired(bouchon, psc_key):
    token = bouchon.mint(V.EXPIRED, idnat=JEAN).token
    with pytest.raises(jwt.ExpiredSignatureError):
        decode_psc(token, psc_key, bouchon)
    assert decode_psc(token, psc_key, bouchon, verify_exp=False)["SubjectNameID"] == JEAN


def test_not_yet_valid(bouchon, psc_key):
    token = bouchon.mint(V.NOT_YET_VALID, idnat=JEAN).token
    with pytest.raises(jwt.ImmatureSignatureError):
        decode_psc(token, psc_key, bouchon)


def test_foreign_issuer_has_its_own_key_and_jwks(bouchon, psc_key):
    token = bouchon.mint(V.FOREIGN_ISSUER, idnat=JEAN).token
    with pytest.raises(jwt.InvalidSignatureError):
        decode_psc(token, psc_key, bouchon, verify_iss=False)
    meta = requests.get(bouchon.foreign_issuer + "/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert meta["issuer"] == bouchon.foreign_issuer != bouchon.issuer
    (foreign,) = requests.get(meta["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert foreign["kid"] != psc_key.key_id
    claims = jwt.decode(token, jwt.PyJWK(foreign).key, algorithms=["RS256"], issuer=bouchon.foreign_issuer)
    assert claims["SubjectNameID"] == JEAN


def test_forged_signature_names_psc_but_fails(bouchon, psc_key):
    token = bouchon.mint(V.FORGED_SIGNATURE, idnat=JEAN).token
    assert jwt.get_unverified_header(token)["kid"] == psc_key.key_id
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == bouchon.issuer
    with pytest.raises(jwt.InvalidSignatureError):
        decode_psc(token, psc_key, bouchon)


def test_unsigned(bouchon, psc_key):
    token = bouchon.mint(V.UNSIGNED, idnat=JEAN).token
    assert jwt.get_unverified_header(token)["alg"] == "none" and token.endswith(".")
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_psc(token, psc_key, bouchon)


def test_hs256_keyed_with_public_pem(bouchon, psc_key):
    token = bouchon.mint(V.HS256_PUBLIC_KEY, idnat=JEAN).token
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    pem = psc_key.key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    # What a confused verifier computes: HMAC keyed with the PEM verifies (pyjwt itself
    # refuses PEM as an HMAC key, so check the MAC the way a naive library would).
    import base64, hashlib, hmac
    signing_input, _, mac = token.rpartition(".")
    expected = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert mac.encode() == expected
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_psc(token, psc_key, bouchon)


def test_embedded_jwk(bouchon, psc_key):
    token = bouchon.mint(V.EMBEDDED_JWK, idnat=JEAN).token
    header = jwt.get_unverified_header(token)
    embedded = jwt.PyJWK(header["jwk"])
    assert jwt.decode(token, embedded.key, algorithms=["RS256"], issuer=bouchon.issuer)["SubjectNameID"] == JEAN
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, psc_key.key, algorithms=["RS256"])


def test_tampered_payload(bouchon, psc_key):
    minted = bouchon.mint(V.TAMPERED_PAYLOAD, idnat=JEAN)
    assert jwt.decode(minted.token, options={"verify_signature": False})["SubjectNameID"] == JEAN
    with pytest.raises(jwt.InvalidSignatureError):
        decode_psc(minted.token, psc_key, bouchon)


def test_other_professional(bouchon, psc_key):
    claims = decode_psc(bouchon.mint(V.OTHER_PROFESSIONAL, idnat=JEAN).token, psc_key, bouchon)
    assert claims["SubjectNameID"] == OTHER != JEAN


def test_revoked_is_validly_signed(bouchon, psc_key):
    minted = bouchon.mint(V.REVOKED, idnat=JEAN)
    assert decode_psc(minted.token, psc_key, bouchon)["jti"] == minted.jti


def test_missing_subject_name_id(bouchon, psc_key):
    claims = decode_psc(bouchon.mint(V.MISSING_SUBJECT_NAME_ID, idnat=JEAN).token, psc_key, bouchon)
    assert "SubjectNameID" not in claims and claims["preferred_username"] == JEAN


def test_wrong_azp(bouchon, psc_key):
    claims = decode_psc(bouchon.mint(V.WRONG_AZP, idnat=JEAN).token, psc_key, bouchon)
    assert claims["azp"] not in ("lps-test", "operateur-reference")


@pytest.mark.parametrize("variant", list(TokenVariant))
def test_introspection_answers_as_psc(bouchon, variant):
    minted = bouchon.mint(variant, idnat=JEAN)
    answer = introspect(bouchon, minted.token)
    assert answer["active"] is VARIANTS[variant].introspection_active
    if not answer["active"]:
        assert answer == {"active": False}
    expected_idnat = {V.OTHER_PROFESSIONAL: OTHER, V.MISSING_SUBJECT_NAME_ID: None}.get(variant, JEAN)
    if answer["active"]:
        assert answer.get("SubjectNameID") == expected_idnat
    call = bouchon.calls(endpoint="introspection")[-1]
    assert call.token_fingerprint == minted.fingerprint
    assert call.client_id == "operateur-reference" and call.answer["active"] is answer["active"]
    assert minted.token not in json.dumps(call.as_dict())


def test_every_variant_is_documented():
    assert set(VARIANTS) == set(TokenVariant)
    text = (Path(__file__).parents[2] / "docs" / "bouchon.md").read_text("utf-8")
    for variant in TokenVariant:
        assert f"`{variant.value}`" in text
