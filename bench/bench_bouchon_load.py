"""The bouchon under concurrent load, beside the npm ``oauth2-mock-server`` 9.3.0 in the same run.

    .venv/bin/python bench/bench_bouchon_load.py [--duration 10] [--workers N] [--no-peer]

Starts ``mssante-conformance bouchon`` (gunicorn, ``--workers`` default one per core) on
loopback with a fresh data dir, and the npm peer (installed with npm into a temporary
directory), then drives each endpoint with ``wrk -t2 -c32 -d<duration>s`` (Debian's ``wrk``;
``apt-get install -y wrk``): client_credentials token, admin mint, validating introspection of
a valid token, JWKS, discovery. Prints req/s, p50 and p99 for each, the peer's figure and the
ratio, and the machine's RSA-2048 signing limit (signs/s on one core, times the cores) beside
the mint rates. Bounded in time (each wrk run) and loopback only; no token or secret is printed.
Not a test: CI does not run it, and the figures depend on what else the machine does (the load
average is printed with each line).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import Request, urlopen

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PEER_VERSION = "9.3.0"
JEAN = "899700366240"
REALM = "/auth/realms/esante-wallet"
OIDC = REALM + "/protocol/openid-connect"

PEER_SCRIPT = """
import { OAuth2Server } from 'oauth2-mock-server';
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(Number(process.argv[2]), '127.0.0.1');
console.log('ready');
"""


def loadavg() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"not answering: {url}")


def lua_post(path: Path, body: str, headers: dict[str, str]) -> Path:
    """A wrk script sending one POST (written 0600: it may hold a client secret)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: int, script: Path | None = None) -> dict:
    command = ["wrk", "-t2", "-c32", f"-d{duration}s", "--timeout", "5s", "--latency"]
    if script:
        command += ["-s", str(script)]
    out = subprocess.run(command + [url], capture_output=True, text=True,
                         timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rate": rate, "p50": p50, "p99": p99, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else "", "load": loadavg()}


def rsa_sign_limit(seconds: float = 1.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core (OpenSSL via cryptography)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message, count, start = b"x" * 600, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


def start_bouchon(work: Path, workers: int | None):
    port, data = free_port(), work / "bouchon"
    admin = work / "admin-secret"
    fd = os.open(admin, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, secrets.token_urlsafe(24).encode())
    os.close(fd)
    command = [sys.executable, "-m", "mssante_conformance.cli", "bouchon", "--port", str(port),
               "--data-dir", str(data), "--console-dir", str(work / "console"),
               "--admin-secret-file", str(admin), "--token-lifetime", "3600"]
    if workers:
        command += ["--workers", str(workers)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + REALM + "/.well-known/openid-configuration")
    return proc, base, admin.read_text().strip(), data


def start_peer(work: Path):
    if not shutil.which("npm") or not shutil.which("node"):
        return None, None
    peer = work / "peer"
    peer.mkdir()
    install = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund",
                              f"oauth2-mock-server@{PEER_VERSION}"], cwd=peer,
                             capture_output=True, timeout=300)
    if install.returncode:
        print("  (npm peer not installed: " + install.stderr.decode()[-200:] + ")")
        return None, None
    (peer / "serve.mjs").write_text(PEER_SCRIPT)
    port = free_port()
    proc = subprocess.Popen(["node", "serve.mjs", str(port)], cwd=peer, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}"


def stop(proc) -> None:
    if proc is None:
        return
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--workers", type=int, help="bouchon worker processes (default: one per core)")
    parser.add_argument("--no-peer", action="store_true", help="skip the npm oauth2-mock-server")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    cores = len(os.sched_getaffinity(0))
    print(f"bouchon under load: wrk -t2 -c32 -d{args.duration}s, loopback, {cores} cores, {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-bouchon-") as tmp:
        work = Path(tmp)
        bouchon, base, admin_secret, data = start_bouchon(work, args.workers)
        peer, peer_base = (None, None) if args.no_peer else start_peer(work)
        try:
            clients = json.loads((data / "clients.json").read_text())
            op_id = "operateur-reference"
            op_auth = basic(op_id, clients[op_id]["secret"])
            mint_body = json.dumps({"variant": "valid", "idnat": JEAN})
            request = Request(base + "/_admin/mint", data=mint_body.encode(), method="POST",
                              headers={"Authorization": f"Bearer {admin_secret}",
                                       "Content-Type": "application/json"})
            with urlopen(request, timeout=10) as answer:
                token = json.load(answer)["token"]
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            cases = {
                "token (client_credentials)": (
                    base + OIDC + "/token",
                    lua_post(work / "token.lua", "grant_type=client_credentials",
                             {**form, "Authorization": op_auth})),
                "admin mint": (
                    base + "/_admin/mint",
                    lua_post(work / "mint.lua", mint_body,
                             {"Content-Type": "application/json",
                              "Authorization": f"Bearer {admin_secret}"})),
                "introspection (validating)": (
                    base + OIDC + "/token/introspect",
                    lua_post(work / "introspect.lua", f"token={token}",
                             {**form, "Authorization": op_auth})),
                "JWKS": (base + OIDC + "/certs", None),
                "discovery": (base + REALM + "/.well-known/openid-configuration", None),
            }
            peer_cases = {}
            if peer_base:
                peer_cases = {
                    "token (client_credentials)": (
                        peer_base + "/token",
                        lua_post(work / "peer-token.lua", "grant_type=client_credentials",
                                 {**form, "Authorization": basic("bench", "bench")})),
                    "introspection (validating)": (
                        peer_base + "/introspect",
                        lua_post(work / "peer-introspect.lua", "token=x",
                                 {**form, "Authorization": basic("bench", "bench")})),
                    "JWKS": (peer_base + "/jwks", None),
                    "discovery": (peer_base + "/.well-known/openid-configuration", None),
                }
            sign = rsa_sign_limit()
            print(f"RSA-2048 signing limit: {sign:,.0f} signs/s per core, "
                  f"≈ {sign * cores:,.0f}/s on {cores} cores ({loadavg()})")
            header = f"{'endpoint':28} {'bouchon req/s':>13} {'p50 ms':>7} {'p99 ms':>7}   " \
                     f"{'peer req/s':>10} {'p99 ms':>7} {'ratio':>6}"
            print(header)
            for name, (url, script) in cases.items():
                ours = wrk(url, args.duration, script)
                line = (f"{name:28} {ours['rate']:13,.0f} {ours['p50']:7.1f} {ours['p99']:7.1f}   ")
                if name in peer_cases:
                    theirs = wrk(*peer_cases[name][:1], args.duration, peer_cases[name][1])
                    line += (f"{theirs['rate']:10,.0f} {theirs['p99']:7.1f} "
                             f"{ours['rate'] / theirs['rate']:5.2f}x")
                elif name == "admin mint":
                    line += f"{'—':>10} {'':7} {ours['rate'] / (sign * cores):5.2f}x of the RSA limit"
                else:
                    line += f"{'—':>10}"
                if name == "token (client_credentials)":
                    line += f" ({ours['rate'] / (sign * cores):.2f}x of the RSA limit)"
                if ours["non2xx"] or ours["socket_errors"]:
                    line += f"  [non-2xx {ours['non2xx']} {ours['socket_errors']}]"
                print(line + f"  ({ours['load']})", flush=True)
            if peer_base:
                print("peer: oauth2-mock-server " + PEER_VERSION + " (its introspection validates "
                      "nothing: it answers active for any token)")
            calls = subprocess.run(
                [sys.executable, "-c", "import sys; from mssante_conformance.psc.store import Store; "
                 "print(len(Store(sys.argv[1]).calls(endpoint='introspection')))", str(data)],
                capture_output=True, text=True).stdout.strip()
            print(f"introspection calls in the relying-party call log: {calls}")
        finally:
            stop(peer)
            stop(bouchon)


if __name__ == "__main__":
    main()
