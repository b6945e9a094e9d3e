"""Signing keys of one bouchon installation, generated once per data dir and reused.

Three RSA keys: ``psc`` (the bouchon's PSC realm), ``foreign`` (another IdP, served at its own
issuer path with its own JWKS) and ``attacker`` (signs forged tokens; never published).
Private key files are written with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from joserfc.jwk import RSAKey

KEY_NAMES = ("psc", "foreign", "attacker")


@dataclass(frozen=True)
class SigningKey:
    name: str
    key: RSAKey
    kid: str

    @property
    def public_jwk(self) -> dict:
        jwk = self.key.as_dict(private=False)
        return {"kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
                "n": jwk["n"], "e": jwk["e"]}

    @property
    def public_pem(self) -> bytes:
        return self.key.as_pem(private=False)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_key(keys_dir: Path, name: str) -> SigningKey:
    path = keys_dir / f"{name}.pem"
    try:
        key = RSAKey.import_key(path.read_bytes())
    except FileNotFoundError:
        key = RSAKey.generate_key(2048, private=True)
        try:
            _write_private(path, key.as_pem(private=True))
        except FileExistsError:  # another process created it first: use theirs
            key = RSAKey.import_key(path.read_bytes())
    return SigningKey(name=name, key=key, kid=key.thumbprint())


@dataclass(frozen=True)
class KeyRing:
    psc: SigningKey
    foreign: SigningKey
    attacker: SigningKey

    @classmethod
    def load(cls, data_dir: Path) -> "KeyRing":
        keys_dir = Path(data_dir) / "keys"
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(keys_dir, 0o700)
        return cls(**{name: load_or_create_key(keys_dir, name) for name in KEY_NAMES})
