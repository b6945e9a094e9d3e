"""local_keys: Dovecot's key-dict layout, JWK -> PEM, the other issuer (pure, no server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from mssante_conformance.reference.local_keys import (KeyDictError, OtherIssuer, escape_identifier,
                                                      fetch_jwks, key_path, public_pem, write_key_dict)


def test_escape_identifier_is_dovecots():
    assert escape_identifier("lps-test") == "lps-test"
    assert escape_identifier("a/b%c") == "a%2fb%25c"
    with pytest.raises(KeyDictError):
        escape_identifier(".hidden")
    with pytest.raises(KeyDictError):
        escape_identifier("")


def test_key_path_is_azp_alg_kid_with_defaults(tmp_path):
    assert key_path(tmp_path, "lps-test", "rs256", "k1") == tmp_path / "lps-test" / "RS256" / "k1"
    assert key_path(tmp_path, "lps/x", "RS256", None) == tmp_path / "lps%2fx" / "RS256" / "default"


def test_public_pem_of_rsa_and_ec_jwks():
    rsa = RSAKey.generate_key(2048, private=True)
    pem = public_pem({**rsa.as_dict(private=True), "kid": "k"})  # private parts are dropped
    assert b"PRIVATE" not in pem
    assert load_pem_public_key(pem).public_numbers().n == load_pem_public_key(
        rsa.as_pem(private=False)).public_numbers().n
    ec = ECKey.generate_key("P-256", private=False)
    assert public_pem(ec.as_dict()).startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeyDictError, match="non pris en charge"):
        public_pem({"kty": "oct", "k": "c2VjcmV0"})


def test_write_key_dict_lays_out_each_signing_key_under_each_azp(tmp_path):
    rsa = RSAKey.generate_key(2048, private=False)
    jwks = [{**rsa.as_dict(), "kid": "psc-1", "alg": "RS256", "use": "sig"},
            {**rsa.as_dict(), "kid": "enc-1", "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]
    written = write_key_dict(tmp_path / "keys", jwks, ["lps-test", "autre-lps"])
    assert sorted(p.relative_to(tmp_path / "keys").as_posix() for p in written) == [
        "autre-lps/RS256/psc-1", "lps-test/RS256/psc-1"]
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in written)
    with pytest.raises(KeyDictError, match="aucune clé"):
        write_key_dict(tmp_path / "none", jwks[1:], ["lps-test"])


def test_fetch_jwks_over_http_and_clear_errors():
    document = {"keys": [{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps(document if self.path == "/certs" else {"keys": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert fetch_jwks(f"{base}/certs") == document["keys"]
        with pytest.raises(KeyDictError, match="sans clé"):
            fetch_jwks(f"{base}/empty")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(KeyDictError, match="JWKS illisible"):
        fetch_jwks(f"http://127.0.0.1:{server.server_port}/certs", timeout_s=2)


def test_other_issuer_keeps_its_key_and_signs_its_own_tokens(tmp_path):
    first = OtherIssuer.ensure(tmp_path / "other")
    again = OtherIssuer.ensure(tmp_path / "other")
    assert first.key.kid == again.key.kid and first.jwks == again.jwks
    assert oct((tmp_path / "other" / "other-issuer.pem").stat().st_mode & 0o777) == "0o600"
    token = first.sign({"sub": "x", "iss": "ignored"})
    decoded = jwt.decode(token, RSAKey.import_key(first.jwks[0]), algorithms=["RS256"])
    assert decoded.claims["iss"] == first.issuer
    assert decoded.header["kid"] == first.key.kid and decoded.header["typ"] == "JWT"
    assert "d" not in first.jwks[0]
