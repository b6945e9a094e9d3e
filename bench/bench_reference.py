"""Start-up and teardown time of the whole reference operator (Dovecot + Postfix), median of a
few runs, beside a bare Dovecot (minimal config, one IMAP listener) as the baseline.

    .venv/bin/python bench/bench_reference.py [--runs 5]

Needs root, dovecot and postfix (as the reference itself). Start-up = from ``start()`` until
every endpoint accepts connections; teardown = ``stop()`` until no process is left. No bouchon
is needed: nothing authenticates during the measurement.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from mssante_conformance.pki import TestPKI
from mssante_conformance.reference import ReferenceOperator
from mssante_conformance.reference.processes import free_port, terminate, wait_listening

STUB_BOUCHON = SimpleNamespace(
    introspection_endpoint="http://127.0.0.1:9/introspect", jwks_uri="http://127.0.0.1:9/certs",
    issuer="http://127.0.0.1:9/auth/realms/esante-wallet",
    operator_client=SimpleNamespace(client_id="bench", client_secret="b" * 24))


def bare_dovecot(workdir: Path) -> tuple[float, float]:
    port = free_port("127.0.0.2")
    run = Path(tempfile.mkdtemp(prefix="bench-dovecot-", dir="/tmp"))
    conf = run / "dovecot.conf"
    conf.write_text(f"""base_dir = {run}/base
state_dir = {run}/state
log_path = {run}/dovecot.log
protocols = imap
listen = 127.0.0.2
ssl = no
auth_mechanisms = plain
passdb {{
  driver = static
  args = nopassword=y
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
""")
    start = time.perf_counter()
    process = subprocess.Popen(["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    wait_listening(process, [("127.0.0.2", port)], "dovecot", lambda: (run / "dovecot.log").read_text())
    started = time.perf_counter() - start
    # Let the login process that answered the readiness probe finish its start (else it waits
    # 5 s for the stats process during shutdown, which would measure a probe artefact).
    with socket.create_connection(("127.0.0.2", port), timeout=5) as probe:
        probe.recv(100)
    start = time.perf_counter()
    terminate([process.pid], children=[process])
    stopped = time.perf_counter() - start
    subprocess.run(["rm", "-rf", str(run)], check=False)
    return started, stopped


def whole_reference(workdir: Path, pki: TestPKI) -> tuple[float, float]:
    op = ReferenceOperator(workdir, STUB_BOUCHON, pki=pki)
    start = time.perf_counter()
    op.start()
    started = time.perf_counter() - start
    start = time.perf_counter()
    left = op.stop()
    stopped = time.perf_counter() - start
    if left:
        raise SystemExit(f"processes left behind: {left}")
    return started, stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reference-") as tmp:
        pki = TestPKI.ensure(Path(tmp) / "pki")  # generated once, outside the timings
        baseline = [bare_dovecot(Path(tmp)) for _ in range(args.runs)]
        reference = [whole_reference(Path(tmp) / f"ref{i}", pki) for i in range(args.runs)]
    median = lambda values: statistics.median(values) * 1000
    b_start, b_stop = median([s for s, _ in baseline]), median([s for _, s in baseline])
    r_start, r_stop = median([s for s, _ in reference]), median([s for _, s in reference])
    print(f"runs: {args.runs} (median, ms)")
    print(f"{'':28}{'start-up':>10}{'teardown':>10}")
    print(f"{'bare dovecot (baseline)':28}{b_start:10.0f}{b_stop:10.0f}")
    print(f"{'reference (dovecot+postfix)':28}{r_start:10.0f}{r_stop:10.0f}")
    print(f"{'ratio reference/baseline':28}{r_start / b_start:10.1f}{r_stop / b_stop:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
