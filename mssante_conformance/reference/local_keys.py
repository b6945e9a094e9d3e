"""Keys for Dovecot's oauth2 passdb in local validation mode (``introspection_mode = local``).

Theory of operation (Dovecot 2.3.19, ``src/lib-oauth2/oauth2-jwt.c``): Dovecot validates the
JWT itself and looks its verification key up in ``local_validation_key_dict`` at
``shared/<azp>/<ALG>/<kid>``, where ``azp`` is the token's ``azp`` claim (``default`` when it
has none) and ``kid`` the header's (``default`` when absent); both are escaped ('/' -> ``%2f``,
'%' -> ``%25``) and ``ALG`` is upper-cased. With the ``fs:posix:prefix=DIR/`` dict the
``shared/`` part is dropped, so the key lives in the file ``DIR/<azp>/<ALG>/<kid>``, as a PEM
public key for RS/PS/ES algorithms (HS keys would be base64 secrets: none are written here,
so an HS256 token never finds a key).

So the operator must know, in advance, every ``azp`` (LPS client id) whose tokens it accepts:
the keys are written once per trusted client id. This module fetches the keys from a JWKS over
HTTP(S) (the bouchon's ``jwks_uri``, embedded or remote), converts them to PEM and lays the
directory out. :class:`OtherIssuer` is a second, independent issuer (its own key pair), for an
operator that trusts someone else than the bouchon, as a production operator trusts the real
Pro Santé Connect. Nothing here prints a key.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import ECKey, RSAKey

from mssante_conformance.psc.discovery import issuer_of
from mssante_conformance.psc.keys import SigningKey, load_or_create_key
from mssante_conformance.psc.variants import sign_rs256

JWKS_TIMEOUT_S = 10
MAX_JWKS_BYTES = 1 << 20
DEFAULT_ALG = {"RSA": "RS256", "EC": "ES256"}
# Another issuer than the bouchon, in the place of the real PSC for a production operator.
OTHER_ISSUER = issuer_of("https://auth.autre-emetteur.mssante.test")


class KeyDictError(ValueError):
    """The JWKS could not be fetched or used (message in French, for the user)."""


def escape_identifier(identifier: str) -> str:
    """Dovecot's ``escape_identifier``: '/' and '%' become ``%2f`` and ``%25``."""
    escaped = identifier.replace("%", "%25").replace("/", "%2f")
    # dict-fs rewrites path segments that start with a dot: such an id would not be found.
    if not escaped or escaped.startswith("."):
        raise KeyDictError(f"identifiant inutilisable comme chemin de clé Dovecot : {identifier!r}")
    return escaped


def key_path(root: Path, azp: str, alg: str, kid: str | None) -> Path:
    """Where Dovecot looks for the key of a token with this ``azp``, ``alg`` and ``kid``."""
    return Path(root) / escape_identifier(azp) / alg.upper() / escape_identifier(kid or "default")


def fetch_jwks(url: str, cafile: str | os.PathLike | None = None,
               timeout_s: float = JWKS_TIMEOUT_S) -> list[dict]:
    """The ``keys`` of the JWKS at ``url`` (https verified against ``cafile`` or the system store)."""
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None) \
        if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:
            document = json.loads(response.read(MAX_JWKS_BYTES))
    except (OSError, ValueError) as exc:
        raise KeyDictError(f"JWKS illisible à {url} : {type(exc).__name__}: {exc}") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise KeyDictError(f"JWKS sans clé à {url}")
    return keys


def public_pem(jwk: dict) -> bytes:
    """PEM (SubjectPublicKeyInfo) of a public RSA or EC JWK."""
    importer = {"RSA": RSAKey, "EC": ECKey}.get(jwk.get("kty"))
    if importer is None:
        raise KeyDictError(f"type de clé non pris en charge : {jwk.get('kty')!r}")
    public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    return importer.import_key(public).as_pem(private=False)


def write_key_dict(root: Path, jwks: list[dict], azps: list[str]) -> list[Path]:
    """Lay out ``root`` for ``fs:posix:prefix=root/``: every signing key of ``jwks`` under
    every trusted ``azp``. Returns the files written. Files are public keys (mode 0644)."""
    written = []
    for jwk in jwks:
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") not in DEFAULT_ALG:
            continue
        pem = public_pem(jwk)
        alg = jwk.get("alg") or DEFAULT_ALG[jwk["kty"]]
        for azp in azps:
            path = key_path(root, azp, alg, jwk.get("kid"))
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            path.write_bytes(pem)
            os.chmod(path, 0o644)
            written.append(path)
    if not written:
        raise KeyDictError("aucune clé de signature RSA/EC utilisable dans le JWKS")
    for directory in {p.parent for p in written} | {p.parent.parent for p in written} | {Path(root)}:
        os.chmod(directory, 0o755)
    return written


@dataclass(frozen=True)
class OtherIssuer:
    """An issuer of the operator's own, not the bouchon: key pair kept in ``directory``
    (private key 0600), reused across starts."""

    issuer: str
    key: SigningKey

    @classmethod
    def ensure(cls, directory: Path, issuer: str = OTHER_ISSUER) -> "OtherIssuer":
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(issuer, load_or_create_key(directory, "other-issuer"))

    @property
    def jwks(self) -> list[dict]:
        return [self.key.public_jwk]

    def sign(self, claims: dict) -> str:
        """A token of this issuer (``iss`` forced to it): the operator's positive control."""
        return sign_rs256({**claims, "iss": self.issuer}, self.key)
