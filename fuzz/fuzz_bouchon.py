"""Fuzz every endpoint of the bouchon with generated requests (hypothesis), through Flask's test
client: malformed forms and query strings, JWT-shaped garbage and real tokens tampered with,
Basic/Bearer headers of every shape, oversized bodies, unicode. Counts HTTP 500 answers and
samples the process's RSS as it goes.

    .venv/bin/python fuzz/fuzz_bouchon.py                 # 10,000 requests per endpoint
    .venv/bin/python fuzz/fuzz_bouchon.py -n 500 --seed 7 --endpoint token

Expectation: 0 HTTP 500 and an RSS that levels off. ``tests/psc/test_fuzz.py`` runs a short
seeded pass of the same generator. Nothing printed here carries a token or a secret: a 500 is
reported by endpoint, method and exception type only.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from flask import got_request_exception
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from mssante_conformance.psc import BouchonConfig, TokenVariant, create_app
from mssante_conformance.psc.discovery import ADMIN_PREFIX, ENDPOINT_PATHS, REALM_PATH, STANDARD_DISCOVERY_PATH
from mssante_conformance.psc.mint import mint
from mssante_conformance.psc.oidc_views import SSO_COOKIE

PUBLIC_URL = "http://127.0.0.1:8765"
ADMIN_SECRET = "fuzz-admin-secret-" + "x" * 16
JEAN = "899700366240"
BATCH = 1000

ENDPOINTS: dict[str, dict] = {
    "discovery": {"path": REALM_PATH + STANDARD_DISCOVERY_PATH, "methods": ["GET"],
                  "params": []},
    "jwks": {"path": REALM_PATH + ENDPOINT_PATHS["jwks_uri"], "methods": ["GET"], "params": []},
    "authorize": {"path": REALM_PATH + ENDPOINT_PATHS["authorization_endpoint"], "methods": ["GET", "POST"],
                  "params": ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                             "code_challenge", "code_challenge_method", "prompt", "acr_values",
                             "idnat", "auth_mode", "refuser"]},
    "token": {"path": REALM_PATH + ENDPOINT_PATHS["token_endpoint"], "methods": ["POST"],
              "params": ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token",
                         "client_id", "client_secret", "scope"]},
    "userinfo": {"path": REALM_PATH + ENDPOINT_PATHS["userinfo_endpoint"], "methods": ["GET", "POST"],
                 "params": ["access_token"]},
    "introspection": {"path": REALM_PATH + ENDPOINT_PATHS["introspection_endpoint"], "methods": ["POST"],
                      "params": ["token", "token_type_hint", "client_id", "client_secret"]},
    "revocation": {"path": REALM_PATH + ENDPOINT_PATHS["revocation_endpoint"], "methods": ["POST"],
                   "params": ["token", "token_type_hint", "client_id", "client_secret"]},
    "end_session": {"path": REALM_PATH + ENDPOINT_PATHS["end_session_endpoint"], "methods": ["GET", "POST"],
                    "params": ["id_token_hint", "post_logout_redirect_uri", "state", "client_id",
                               "refresh_token", "confirmation", "client_secret"]},
    "admin": {"path": ADMIN_PREFIX, "methods": ["GET", "POST"],
              "params": ["variant", "idnat", "client_id", "since", "endpoint"],
              "subpaths": ["/info", "/operator-client", "/mint", "/calls", "/", "/nope"]},
}


@dataclass
class Material:
    """Real values the generator mixes in, so that requests get past the first checks."""

    client_ids: list[str]
    client_secrets: list[str]
    tokens: list[str]
    words: list[str] = field(default_factory=lambda: [
        "authorization_code", "refresh_token", "client_credentials", "code", "openid scope_all",
        "S256", "plain", "none", "login", "CARD", "access_token", "Bearer", JEAN,
        "http://127.0.0.1:9/cb", "https://evil.example/", "valid", "expired", "introspection"])


def build_app(data_dir: Path):
    config = BouchonConfig(data_dir=data_dir, public_url=PUBLIC_URL, admin_secret=ADMIN_SECRET)
    app = create_app(config)
    state = app.extensions["bouchon"]
    tokens = [mint(state, variant, JEAN).token for variant in
              (TokenVariant.VALID, TokenVariant.EXPIRED, TokenVariant.UNSIGNED, TokenVariant.FORGED_SIGNATURE,
               TokenVariant.FOREIGN_ISSUER)]
    clients = list(state.clients.values())
    material = Material([c.client_id for c in clients], [c.client_secret for c in clients], tokens)
    return app, material


# ------------------------------------------------------------------------------ strategies
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def jwt_like(material: Material):
    header = st.one_of(
        st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jwk", "crit", "x5u", "jku"]), json_values, max_size=4),
        st.just({"alg": "none"}), st.just({"alg": "HS256"}), st.just({"alg": "RS256", "kid": "x"}))
    claims = st.dictionaries(
        st.sampled_from(["iss", "sub", "aud", "azp", "exp", "iat", "nbf", "jti", "sid", "scope",
                         "SubjectNameID", "preferred_username"]), json_values, max_size=8)
    built = st.builds(lambda h, c, sig: ".".join([_b64url(json.dumps(h).encode()),
                                                  _b64url(json.dumps(c, allow_nan=True).encode()), _b64url(sig)]),
                      header, claims, st.binary(max_size=300))
    real = st.sampled_from(material.tokens)
    tampered = st.builds(lambda t, i, ch: t[:i] + ch + t[i + 1:], real, st.integers(0, 400),
                         st.sampled_from(list("Aa0._-=+/ \x00é")))
    segments = st.lists(st.text(alphabet="ABCxyz09-_=.", max_size=30), min_size=1, max_size=5).map(".".join)
    return st.one_of(built, real, tampered, segments)


def values(material: Material):
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
    return st.one_of(
        text,
        st.sampled_from(material.words + material.client_ids + material.client_secrets),
        jwt_like(material),
        st.text(max_size=5).map(lambda t: t * 2000),  # long
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
        st.integers().map(str),
    )


def basic_header(material: Material):
    pair = st.builds(lambda i, s: f"{i}:{s}", st.sampled_from(material.client_ids + ["", "x", "é"]),
                     st.sampled_from(material.client_secrets + ["", "wrong", "\u00ff"]))
    raw = st.one_of(pair.map(lambda p: p.encode("utf-8")), st.binary(max_size=60))
    return st.one_of(
        raw.map(lambda b: "Basic " + base64.b64encode(b).decode()),
        st.text(max_size=40).map(lambda t: "Basic " + t),
        st.just("Basic"), st.just("Basic ===="), st.just("basic /w=="))


def headers(material: Material):
    auth = st.one_of(
        st.none(), basic_header(material),
        jwt_like(material).map(lambda t: "Bearer " + t),
        st.just("Bearer " + ADMIN_SECRET),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
    content_type = st.sampled_from([None, "application/x-www-form-urlencoded", "application/json",
                                    "multipart/form-data; boundary=xyz", "text/plain",
                                    "application/x-www-form-urlencoded; charset=latin-1", "garbage/;;"])
    cookie = st.one_of(st.none(), st.text(alphabet="abcdef0123456789-", max_size=40))
    return st.fixed_dictionaries({"auth": auth, "content_type": content_type, "cookie": cookie})


def body(material: Material, names: list[str]):
    form = st.dictionaries(st.sampled_from(names + ["x", "é", ""]) if names else st.text(max_size=10),
                           values(material), max_size=7)
    return st.one_of(
        st.none(),
        form.map(lambda d: urlencode(d).encode("utf-8")),
        st.binary(max_size=300),
        st.dictionaries(st.sampled_from(names + ["x"]) if names else st.text(max_size=5), json_values,
                        max_size=5).map(lambda d: json.dumps(d, allow_nan=True).encode()),
        st.integers(64 * 1024 - 10, 200 * 1024).map(lambda n: b"token=" + b"A" * n),  # oversized
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def request_strategy(name: str, material: Material):
    spec = ENDPOINTS[name]
    names = spec["params"]
    # mostly the endpoint's own methods, sometimes another
    method = st.one_of(st.sampled_from(spec["methods"]),
                       st.sampled_from(["PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]))
    path = st.sampled_from([spec["path"] + sub for sub in spec.get("subpaths", [""])])
    query = st.one_of(st.none(), st.dictionaries(st.sampled_from(names + ["x"]) if names else st.text(max_size=5),
                                                 values(material), max_size=6),
                      st.binary(max_size=80))
    return st.fixed_dictionaries({"method": method, "path": path, "query": query,
                                  "headers": headers(material), "body": body(material, names)})


# ------------------------------------------------------------------------------ running
def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class EndpointResult:
    name: str
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exception type names behind the 500s
    unsendable: int = 0  # requests the test client itself could not build (not the bouchon's fault)
    rss_kib: list[tuple[int, int]] = field(default_factory=list)  # (requests so far, RSS)
    seconds: float = 0.0

    @property
    def http_500(self) -> int:
        return self.statuses.get(500, 0)


def send(client, request: dict):
    query = request["query"]
    if isinstance(query, dict):
        query_string = urlencode(query)
    else:  # raw bytes, as a WSGI server would pass them (latin-1 decoded)
        query_string = (query or b"").decode("latin-1")
    hdrs = {}
    h = request["headers"]
    if h["auth"] is not None:
        hdrs["Authorization"] = h["auth"]
    if h["content_type"] is not None:
        hdrs["Content-Type"] = h["content_type"]
    if h["cookie"] is not None:
        hdrs["Cookie"] = f"{SSO_COOKIE}={h['cookie']}"
    return client.open(request["path"], method=request["method"], query_string=query_string,
                       data=request["body"], headers=hdrs, base_url=PUBLIC_URL)


def fuzz_endpoint(app, material: Material, name: str, count: int, run_seed: int,
                  rss_every: int = 1000) -> EndpointResult:
    result = EndpointResult(name)
    client = app.test_client()
    last_error: list[str] = []

    def note_exception(sender, exception, **extra):
        last_error.append(type(exception).__name__)

    class NoteLogged(logging.Handler):  # the app's 500 handler logs the exception type
        def emit(self, record):
            last_error.append(str(record.args[-1]) if record.args else record.getMessage()[:80])

    handler = NoteLogged(logging.ERROR)
    app.logger.addHandler(handler)
    app.logger.propagate = False
    got_request_exception.connect(note_exception, app)
    started = time.monotonic()
    try:
        round_seed = run_seed * 1000
        while result.requests < count:
            # Batches of at most BATCH examples: hypothesis keeps a tree of every example of one
            # run, which would show up as the RSS growth we are looking for in the app.
            remaining = min(count - result.requests, BATCH)

            @seed(round_seed)
            @settings(max_examples=remaining, database=None, deadline=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck), print_blob=False,
                      verbosity=Verbosity.quiet)
            @given(request_strategy(name, material))
            def one(request):
                if result.requests >= count:
                    return
                last_error.clear()
                try:
                    response = send(client, request)
                except Exception:  # noqa: BLE001 — werkzeug's request builder, not the app
                    if last_error:
                        raise
                    result.unsendable += 1
                    return
                response.close()
                result.requests += 1
                result.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    result.errors[last_error[0] if last_error else "(none)"] += 1
                if result.requests % rss_every == 0:
                    result.rss_kib.append((result.requests, rss_kib()))

            one()
            round_seed += 1  # next batch (or hypothesis stopped short): a new seed
    finally:
        got_request_exception.disconnect(note_exception, app)
        app.logger.removeHandler(handler)
    result.seconds = time.monotonic() - started
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=10_000, help="requests per endpoint")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--endpoint", action="append", choices=sorted(ENDPOINTS),
                        help="only these endpoints (repeatable; default all)")
    args = parser.parse_args(argv)
    names = args.endpoint or sorted(ENDPOINTS)
    with tempfile.TemporaryDirectory(prefix="fuzz-bouchon-") as tmp:
        app, material = build_app(Path(tmp) / "bouchon")
        from flask.logging import default_handler

        app.logger.removeHandler(default_handler)  # 500s are counted by exception type instead
        print(f"fuzz_bouchon: {args.requests} requests per endpoint, seed {args.seed}, pid {os.getpid()}, "
              f"RSS at start {rss_kib()} KiB", flush=True)
        total_500 = 0
        for name in names:
            result = fuzz_endpoint(app, material, name, args.requests, args.seed)
            total_500 += result.http_500
            statuses = ", ".join(f"{code}: {n}" for code, n in sorted(result.statuses.items()))
            rss = " ".join(f"{n}:{kib // 1024}M" for n, kib in result.rss_kib[:: max(1, len(result.rss_kib) // 5)])
            print(f"{name:14} {result.requests:6} requests in {result.seconds:6.1f} s  HTTP 500: {result.http_500}"
                  f"  statuses {{{statuses}}}", flush=True)
            print(f"{'':14} RSS (requests:MiB) {rss}"
                  + (f"  (unsendable by the test client: {result.unsendable})" if result.unsendable else ""),
                  flush=True)
            for error, n in result.errors.most_common():
                print(f"{'':14} 500 caused by {error}: {n}", flush=True)
        print(f"total HTTP 500: {total_500}; RSS at end {rss_kib()} KiB", flush=True)
    return 1 if total_500 else 0


if __name__ == "__main__":
    sys.exit(main())
