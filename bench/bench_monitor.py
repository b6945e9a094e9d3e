"""Scale of `mssante-conformance monitor`: N = 1, 10, 50 loopback targets in one round.

    .venv/bin/python bench/bench_monitor.py [--sizes 1,10,50] [--max-parallel 8] [--instances 3]

Starts the bouchon and a few reference operator instances (Dovecot + Postfix on loopback),
mixing profiles (conformant, plaintext_auth, tls_legacy, …); target i is served by instance
i mod K, with all four API LPS endpoints, a BAL/IDNAT and the AUTH_CLI certificates, as in
production monitoring. First each instance is monitored alone (the single-target times), then
one round per N. Prints the total time against N = 1 and against the sum of the single-target
times of the same targets, the CPU time of the runs, and the load average (the machine is
shared: read the ratios with it). Needs root, dovecot and postfix, like the reference itself.
The goal of issue 11 is N = 50 in at most 3x the time of N = 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from mssante_conformance.monitor.history import MonitorHistory
from mssante_conformance.monitor.runner import Monitor
from mssante_conformance.monitor.targets import parse_targets

PROFILES = ("conformant", "plaintext_auth", "tls_legacy", "conformant", "mx_any_ca")


def target_entry(name: str, op) -> dict:
    box = next(m for m in op.mailboxes if m.holders)
    e = op.endpoints
    return {"name": name, "organisation": f"org-{op.profile.name}",
            "operator_urls": [e["imap"], e["imaps"], e["smtp"], e["smtps"]],
            "bal": box.address, "idnat": box.holders[0], "ca_file": str(op.ca_file),
            "client_cert": str(op.auth_cli.cert), "client_key": str(op.auth_cli.key),
            "expired_client_cert": str(op.pki.expired_client.cert),
            "expired_client_key": str(op.pki.expired_client.key)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(work: Path, label: str, entries: list[dict], max_parallel: int, deadline: float):
    targets = parse_targets({"targets": entries})
    data = work / label
    monitor = Monitor(MonitorHistory(data), data_dir=data, max_parallel=max_parallel, deadline=deadline)
    cpu0, t0 = children_cpu(), time.monotonic()
    results = monitor.run_round(targets)
    return time.monotonic() - t0, children_cpu() - cpu0, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--max-parallel", type=int, default=8)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=1800)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from mssante_conformance.pki import TestPKI
    from mssante_conformance.psc import Bouchon
    from mssante_conformance.reference import ReferenceOperator

    work = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    pki = TestPKI.ensure(work / "pki")
    with Bouchon.start(work / "bouchon", host="127.0.0.1", port=0) as bouchon:
        ops = [ReferenceOperator(work / f"ref{i}", bouchon, profile=PROFILES[i % len(PROFILES)], pki=pki)
               for i in range(args.instances)]
        try:
            for op in ops:
                op.start()
            print(f"{len(ops)} instances : {', '.join(op.profile.name for op in ops)} ; "
                  f"--max-parallel {args.max_parallel} ; {os.cpu_count()} CPU", flush=True)
            single = {}
            for i, op in enumerate(ops):
                elapsed, cpu, (r,) = one_round(work, f"single{i}", [target_entry(f"seul{i}", op)],
                                               args.max_parallel, args.deadline)
                single[i] = elapsed
                print(f"cible seule sur {op.profile.name:<15} {elapsed:6.1f} s  CPU {cpu:5.1f} s  "
                      f"{r.status} {r.verdict} ({r.count('passed')} réussis, {r.count('failed')} échecs, "
                      f"{r.count('error')} erreurs)", flush=True)
            print()
            print(f"{'N':>3}  {'total':>8}  {'÷ N=1':>6}  {'Σ seules':>9}  {'÷ Σ':>5}  {'CPU':>7}  "
                  f"{'erreurs':>7}  charge (1/5/15 min)")
            base = None
            for n in sizes:
                entries = [target_entry(f"t{j:03d}", ops[j % len(ops)]) for j in range(n)]
                total, cpu, results = one_round(work, f"n{n}", entries, args.max_parallel, args.deadline)
                base = base or (total if n == 1 else single[0])
                serial = sum(single[j % len(ops)] for j in range(n))
                errors = sum(1 for r in results if r.status != "finished")
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"{n:>3}  {total:7.1f}s  {total / base:5.1f}x  {serial:8.1f}s  {total / serial:4.2f}  "
                      f"{cpu:6.1f}s  {errors:>7}  {load}", flush=True)
        finally:
            for op in ops:
                op.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
