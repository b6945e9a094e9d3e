"""Benchmark: sslyze scans of N local TLS endpoints, one after the other vs concurrently.

    .venv/bin/python bench/bench_tls.py [N]
    .venv/bin/python bench/bench_tls.py reference [PROFILE ...]

Starts N loopback TLS servers in a child process (half TLS 1.2+, half also accepting TLS 1.0 with every
suite), scans them with ``scan_endpoints`` one endpoint per call, then all in one call,
and prints both times side by side. Not a test: nothing asserts a time.

``reference``: starts the real reference operator (Dovecot + Postfix, default profiles conformant
and tls_legacy) and scans its 4 LPS endpoints (imap, imaps, smtp, smtps) with every version, once
with ``full=True`` (sslyze's Scanner, every version enumerated suite by suite: the scan on integ)
and once as the LPS-TLS checks now do (one-handshake probe per version; an accepted version gets
only its weak suites tested one by one; a version refused by an alert is done; anything else is
enumerated); prints the CPU seconds of this process (``time.process_time``: sslyze's threads
included, the servers are other processes) and wall seconds, and whether both gave the same
verdicts (versions, weak suites, errors, certificate; ``accepted_suites`` is complete only with
``full=True``).

Measured 2026-12-06 on the shared 2-core machine while the full test suite ran beside it (load
average 2 to 21: the wall figures are noisy, the CPU ones much less), one scan of the 4 endpoints,
``nice .venv/bin/python bench/bench_tls.py reference``:
         profile  full CPU   fast CPU  full wall   fast wall  same
      conformant     5.70s      0.95s     13.11s       8.49s  True   (before the connectivity fix)
      tls_legacy     6.77s      0.94s     14.79s       7.85s  True   (before the connectivity fix)
      conformant     5.81s      0.98s     13.54s       7.44s  True
      tls_legacy     6.26s      0.89s     13.00s       5.12s  True
      conformant     5.24s      1.00s     13.66s      10.91s  True
      tls_legacy     5.81s      0.92s     17.11s       7.83s  True
      conformant     6.26s      1.02s     27.74s      15.31s  True   (load average ~6)
      tls_legacy     6.57s      0.93s     21.84s       8.21s  True
For comparison, wt-tlsscan's version probe alone (b30b7ed, enumeration of every version not
refused by an alert) measured 4.6-6.5 CPU-s and 18-22 s wall on the same scan.

So ~6x less CPU (5.2-6.8 -> 0.9-1.0 CPU-s): the accepted strong suites are no longer handshaken
one by one (Dovecot's 28 accepted TLS 1.2 suites, 17 of them DHE-4096, were ~3.6 CPU-s). What is
left: the weak-suite tests (rejected: cheap), the certificate, and the full enumeration of the
versions Dovecot refuses WITHOUT an alert (SSL 3.0 / TLS 1.0 / TLS 1.1 on conformant, SSL 3.0 on
tls_legacy: 121 rejected handshakes each). Wall: the imap endpoint no longer waits a network
timeout in sslyze's connectivity test (5 s: see ``_connectivity`` in mail/tls_probe.py), and the
connectivity test runs once. The fast wall that remains is mostly a stall of 3-4 s on the imaps
endpoint right after its connectivity test (all five version probes wait together, server side:
no CPU here; seen with sslyze's own connectivity test too, not seen with plain concurrent Python
handshakes; not explained) and the enumeration of the versions refused without an alert.
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


def _verdicts(result):
    """What the LPS-TLS checks read (``accepted_suites`` is complete only with ``full=True``)."""
    return (result.versions, result.weak_suites, result.errors, result.error, result.certificate,
            result.chain_valid, result.hostname_matched)


def reference(profiles: list[str]) -> None:
    from mssante_conformance.psc import Bouchon
    from mssante_conformance.reference import ReferenceOperator

    kinds = ("imap", "imaps", "smtp", "smtps")
    print(f"{'profile':>12} {'full CPU':>9} {'fast CPU':>10} {'full wall':>10} {'fast wall':>11}  same")
    with tempfile.TemporaryDirectory(prefix="bench-tls-ref-") as root:
        with Bouchon.start(Path(root) / "bouchon", host="127.0.0.1", port=0) as bouchon:
            for profile in profiles:
                with ReferenceOperator(Path(root) / profile, bouchon, profile=profile) as op:
                    urls = [op.endpoints[k] for k in kinds]
                    scan_endpoints(urls[:1], ca_file=str(op.ca_file), versions=("tls1_3",))  # warm-up
                    figures, results = [], []
                    for full in (True, False):
                        cpu, wall = time.process_time(), time.perf_counter()
                        results.append(scan_endpoints(urls, ca_file=str(op.ca_file), full=full))
                        figures += [time.process_time() - cpu, time.perf_counter() - wall]
                    same = [_verdicts(r) for r in results[0]] == [_verdicts(r) for r in results[1]] \
                        and not any(r.error for r in results[0])
                    print(f"{profile:>12} {figures[0]:>8.2f}s {figures[2]:>9.2f}s {figures[1]:>9.2f}s "
                          f"{figures[3]:>10.2f}s  {same}")
                    for r in results[1]:
                        print(f"{'':>12} {r.endpoint.url}: {r.decided_by} weak={sorted(r.weak_suites)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "reference":
        reference(sys.argv[2:] or ["conformant", "tls_legacy"])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
