"""Benchmark: sslyze scans of N local TLS endpoints, one after the other vs concurrently.

    .venv/bin/python bench/bench_tls.py [N]

Starts N loopback TLS servers in a child process (half TLS 1.2+, half also accepting TLS 1.0 with every
suite), scans them with ``scan_endpoints`` one endpoint per call, then all in one call,
and prints both times side by side. Not a test: nothing asserts a time.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "mail"))

from mail_peers import ScriptedServer, imap_session, make_tls_material, server_context  # noqa: E402

from mssante_conformance.mail.tls import scan_endpoints  # noqa: E402


def serve(material, n: int, ports, stop) -> None:
    """In a child process, so the servers' TLS work does not share the scanner's GIL."""
    servers = [
        ScriptedServer(imap_session(None, implicit=True), tls=server_context(material, legacy=i % 2 == 1))
        for i in range(n)
    ]
    ports.put([s.port for s in servers])
    stop.wait()
    for server in servers:
        server.close()


def main(n: int) -> None:
    material = make_tls_material(Path(tempfile.mkdtemp(prefix="bench-tls-")))
    ports, stop = multiprocessing.Queue(), multiprocessing.Event()
    child = multiprocessing.Process(target=serve, args=(material, n, ports, stop), daemon=True)
    child.start()
    urls = [f"imaps://127.0.0.1:{port}" for port in ports.get(timeout=30)]
    try:
        scan_endpoints(urls[:1], ca_file=material.ca_file)  # warm-up: sslyze imports, trust stores

        start = time.perf_counter()
        sequential = [scan_endpoints([url], ca_file=material.ca_file)[0] for url in urls]
        t_seq = time.perf_counter() - start

        start = time.perf_counter()
        concurrent = scan_endpoints(urls, ca_file=material.ca_file, concurrency=n)
        t_conc = time.perf_counter() - start
    finally:
        stop.set()
        child.join(10)

    same = [a.versions for a in sequential] == [b.versions for b in concurrent]
    legacy = sum(1 for r in concurrent if r.accepts("tls1_0"))
    print(f"endpoints: {n} ({legacy} accepting TLS 1.0); same verdicts both ways: {same}")
    print(f"{'sequential':>12} {'concurrent':>12} {'ratio':>8}")
    print(f"{t_seq:>11.2f}s {t_conc:>11.2f}s {t_seq / t_conc:>7.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
