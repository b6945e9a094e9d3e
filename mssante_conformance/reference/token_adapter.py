"""The operator-side token adapter: Dovecot's checkpassword program for XOAUTH2/OAUTHBEARER.

Why checkpassword (and not Dovecot's oauth2 passdb): Dovecot's OAuth mechanisms hand the
bearer token to the passdb chain as a plaintext password, so a checkpassword program receives
the BAL the client asked for *and* the token together. That is what an MSSanté operator must
decide on: the PSC token carries the professional's IDNAT (``SubjectNameID``), never the BAL
address, and one professional may hold several BALs (personal, practice, organisational).
The oauth2 passdb can only compare one attribute of the introspection answer with the login
name as strings; the IDNAT → BAL directory lives here instead, in one readable place.

Protocol (checkpassword, Dovecot flavour): ``username\\0password\\0`` on fd 3; on success
set ``USER`` and exec ``argv[1]`` (checkpassword-reply, which answers on fd 4); exit 1 =
authentication refused, 111 = temporary failure (bouchon unreachable).

Run as ``python -m mssante_conformance.reference.token_adapter CONFIG.json REPLY-PROGRAM``.
The config file (mode 0600) gives the introspection endpoint, the operator client, the
directory file and the policy (one of the profiles' ``token_policy``). Every decision is
logged with the token's fingerprint only.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.reference.directory import Directory, parse_directory

EXIT_REFUSED = 1
EXIT_TEMPFAIL = 111
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
    with urllib.request.urlopen(request, timeout=INTROSPECTION_TIMEOUT_S) as response:
        answer = json.loads(response.read(MAX_INPUT))
    if not isinstance(answer, dict):
        raise ValueError("introspection answer is not a JSON object")
    return answer


def validate_ignoring_expiry(config: dict, token: str) -> dict | None:
    """DEVIATION no_expiry_check: check signature (PSC JWKS) and issuer, ignore ``exp``.

    Returns claims shaped like an active introspection answer, or None. Only used when the
    bouchon said inactive, so the one difference from ``introspect`` is expired tokens."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    with urllib.request.urlopen(config["jwks_uri"], timeout=INTROSPECTION_TIMEOUT_S) as response:
        keys = KeySet.import_key_set(json.loads(response.read(MAX_INPUT)))
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


def _log(config: dict, bal: str, token: str, decision: Decision) -> None:
    line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "bal": bal,
                       "token": fingerprint(token), "accepted": decision.accepted,
                       "reason": decision.reason, "idnat": decision.idnat})
    try:
        with open(config["log_file"], "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except (OSError, KeyError):
        pass


def run(config: dict, bal: str, token: str) -> Decision:
    directory = parse_directory(json.load(open(config["directory_file"], encoding="utf-8")))
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


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: token_adapter CONFIG.json REPLY-PROGRAM", file=sys.stderr)
        return EXIT_TEMPFAIL
    try:
        with os.fdopen(3, "rb") as fd3:
            fields = fd3.read(MAX_INPUT).split(b"\0")
        config = json.load(open(argv[1], encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"token_adapter: cannot read input or config: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    bal = fields[0].decode("utf-8", "replace").strip().lower() if fields else ""
    token = fields[1].decode("utf-8", "replace") if len(fields) > 1 else ""
    try:
        decision = run(config, bal, token)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        _log(config, bal, token, Decision(False, f"temporary failure: {type(exc).__name__}"))
        return EXIT_TEMPFAIL
    _log(config, bal, token, decision)
    if not decision.accepted:
        return EXIT_REFUSED
    os.environ["USER"] = bal
    os.environ["userdb_uid"] = str(config["mail_uid"])
    os.environ["userdb_gid"] = str(config["mail_gid"])
    os.environ["EXTRA"] = "userdb_uid userdb_gid"
    os.execv(argv[2], argv[2:])
    return EXIT_TEMPFAIL  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv))
