"""A full API LPS campaign against the reference operator, beside the floor of the same exchanges.

    .venv/bin/python bench/bench_campaign.py [--concurrency 8] [--sequential]

1. The campaign: ``mssante-conformance run --scope api_lps --concurrency N`` against the
   embedded reference (Dovecot + Postfix + bouchon, loopback), as an operator would run it
   (PDF aside). Printed: the checks' time (the report's first check start to its end), the
   whole command's wall time, and the verdict. ``--sequential`` runs it again at
   ``--concurrency 1`` for comparison.
2. The floor: a raw-socket script doing the campaign's token exchanges (per IMAP/SMTP endpoint:
   the control and each rejection variant, XOAUTH2 over STARTTLS or implicit TLS) all at once
   against a reference started the same way, plus an sslyze scan of each endpoint alone
   (the slowest one is what a campaign cannot go under). The floor is
   ``exchanges at once + slowest single-endpoint scan``; the ratio is campaign / floor.

Needs what the reference needs (root, dovecot, postfix). Loopback only; bounded (each run has
its own deadline). Not a test: CI does not run it. The load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

RUN_DEADLINE_S = 600
VARIANTS = ("expired", "not_yet_valid", "foreign_issuer", "forged_signature", "unsigned",
            "hs256_public_key", "tampered_payload", "revoked")


def loadavg() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def campaign(concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as report_dir:
        command = [sys.executable, "-m", "mssante_conformance.cli", "run", "--scope", "api_lps",
                   "--report-dir", report_dir, "--concurrency", str(concurrency)]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        progress, seen, first_end, last_end = Path(report_dir) / "progress.jsonl", 0, None, None
        while proc.poll() is None and time.perf_counter() - start < RUN_DEADLINE_S:
            # each finished check appends a line: when the first and the last ones ended
            lines = progress.read_text(encoding="utf-8").count("\n") if progress.exists() else 0
            if lines > seen:
                now = time.perf_counter()
                first_end = first_end or now
                last_end, seen = now, lines
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        wall = time.perf_counter() - start
        report = json.loads((Path(report_dir) / "report.json").read_text(encoding="utf-8"))
        # Checks' time: first check's own duration + from its end to the last check's end (the
        # reference's start and stop, imports and the report are outside).
        first = json.loads(progress.read_text(encoding="utf-8").splitlines()[0])
        checks_s = float(first.get("duration_s") or 0) + (last_end - first_end)
        outcomes = {}
        for c in report["checks"]:
            outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
        return {"wall": wall, "checks": checks_s, "verdict": report.get("verdict"),
                "outcomes": outcomes, "load": loadavg()}


# ---------------------------------------------------------------------------- the floor
def _read_line(sock) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _smtp_reply(sock) -> bytes:
    while True:
        line = _read_line(sock)
        if len(line) < 4 or line[3:4] != b"-":
            return line


def xoauth2_exchange(endpoint, ca_file: str, user: str, token: str) -> str:
    """Connect, TLS, one XOAUTH2 with ``token``: the server's final answer (status word/code)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    payload = base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=30)
    try:
        imap = endpoint.url.startswith("imap")
        if endpoint.implicit_tls:
            sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        if imap:
            _read_line(sock)
            if not endpoint.implicit_tls:
                sock.sendall(b"s STARTTLS\r\n")
                _read_line(sock)
                sock = context.wrap_socket(sock, server_hostname=endpoint.host)
            sock.sendall(f"a AUTHENTICATE XOAUTH2 {payload}\r\n".encode())
            line = _read_line(sock)
            if line.startswith(b"+"):
                sock.sendall(b"\r\n")
                line = _read_line(sock)
            return line.split(b" ")[1].decode() if b" " in line else "?"
        _smtp_reply(sock)
        sock.sendall(b"EHLO bench.test\r\n")
        _smtp_reply(sock)
        if not endpoint.implicit_tls:
            sock.sendall(b"STARTTLS\r\n")
            _smtp_reply(sock)
            sock = context.wrap_socket(sock, server_hostname=endpoint.host)
            sock.sendall(b"EHLO bench.test\r\n")
            _smtp_reply(sock)
        sock.sendall(f"AUTH XOAUTH2 {payload}\r\n".encode())
        line = _smtp_reply(sock)
        if line.startswith(b"334"):
            sock.sendall(b"\r\n")
            line = _smtp_reply(sock)
        return line[:3].decode()
    finally:
        sock.close()


def floor() -> dict:
    from mssante_conformance.secret_registry import SecretRegistry
    from mssante_conformance.mail.tls_scan import scan_endpoints
    from mssante_conformance.settings import build_settings
    from mssante_conformance.target import open_target

    settings = build_settings({"scope": "api_lps"})
    with open_target(settings, SecretRegistry()) as target:
        ca = str(target.ca_file)
        jobs = []
        for endpoint in target.endpoints:
            jobs.append((endpoint, "valid", None))
            jobs += [(endpoint, variant, None) for variant in VARIANTS]
            jobs.append((endpoint, "valid", target.other_idnat))
        tokens = [target.mint(variant, idnat=idnat).token for _, variant, idnat in jobs]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            answers = list(pool.map(lambda job: xoauth2_exchange(job[0][0], ca, target.bal, job[1]),
                                    zip(jobs, tokens)))
        exchanges = time.perf_counter() - start
        accepted = sum(a in ("OK", "235") for a in answers)
        scans = {}
        for endpoint in target.endpoints:
            start = time.perf_counter()
            scan_endpoints([endpoint], ca_file=ca, timeout=target.network_timeout)
            scans[endpoint.url.split(":")[0]] = time.perf_counter() - start
        return {"exchanges": exchanges, "count": len(jobs), "accepted": accepted,
                "scans": scans, "load": loadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sequential", action="store_true",
                        help="also run the campaign at --concurrency 1")
    args = parser.parse_args()
    print(f"campaign against the reference (scope api_lps), {loadavg()}")
    ours = campaign(args.concurrency)
    print(f"  campaign --concurrency {args.concurrency:<2}: checks {ours['checks']:.1f} s, "
          f"command {ours['wall']:.1f} s, verdict {ours['verdict']} {ours['outcomes']}  ({ours['load']})",
          flush=True)
    if args.sequential:
        seq = campaign(1)
        print(f"  campaign --concurrency 1 : checks {seq['checks']:.1f} s, command {seq['wall']:.1f} s, "
              f"verdict {seq['verdict']} {seq['outcomes']}  ({seq['load']})  -> concurrency {args.concurrency} is "
              f"{seq['checks'] / ours['checks']:.2f}x faster", flush=True)
    base = floor()
    slowest = max(base["scans"].values())
    floor_s = base["exchanges"] + slowest
    print(f"  floor (raw sockets): {base['count']} XOAUTH2 exchanges at once {base['exchanges']:.2f} s "
          f"({base['accepted']} accepted: the controls), single-endpoint sslyze scans "
          + ", ".join(f"{k} {v:.1f} s" for k, v in base["scans"].items())
          + f"; floor {floor_s:.1f} s  ({base['load']})")
    print(f"  ratio campaign / floor: {ours['checks'] / floor_s:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
