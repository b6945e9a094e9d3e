"""A bouchon started as its own process (`mssante-conformance bouchon`), as a platform runs it.

Used by test_remote_process.py and tests/e2e/test_remote_bouchon.py. Its https certificate
comes from a TestPKI of its own (server certificate for 127.0.0.1), so only that CA verifies
it: not the system store, not the reference operator's PKI.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from mssante_conformance.pki import TestPKI

ADMIN_SECRET = "secret-admin-du-bouchon-de-test-0123456789"
START_DEADLINE_S = 60


@dataclass
class ServedBouchon:
    url: str
    ca_file: Path | None
    admin_secret: str
    data_dir: Path
    log: Path
    process: subprocess.Popen

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def cli() -> list[str]:
    script = Path(sys.executable).with_name("mssante-conformance")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mssante_conformance.cli"]


@contextlib.contextmanager
def served_bouchon(workdir: Path, tls: bool = True):
    workdir.mkdir(parents=True, exist_ok=True)
    secret_file = workdir / "admin-secret"
    secret_file.write_text(ADMIN_SECRET)
    os.chmod(secret_file, 0o600)
    port = free_port()
    argv = cli() + ["bouchon", "--host", "127.0.0.1", "--port", str(port),
                    "--data-dir", str(workdir / "bouchon-data"), "--console-dir", str(workdir / "console"),
                    "--admin-secret-file", str(secret_file)]
    ca_file = None
    if tls:
        pki = TestPKI.ensure(workdir / "bouchon-pki")
        ca_file = pki.ca_file
        argv += ["--tls-cert", str(pki.harness_sink.cert), "--tls-key", str(pki.harness_sink.key)]
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    log = workdir / "bouchon.log"
    env = {k: v for k, v in os.environ.items() if k != "MSSANTE_BOUCHON_ADMIN_SECRET"}
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    served = ServedBouchon(url, ca_file, ADMIN_SECRET, workdir / "bouchon-data", log, process)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                requests.get(url + "/auth/realms/esante-wallet/.well-known/openid-configuration",
                             verify=str(ca_file) if ca_file else True, timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the bouchon did not start:\n{served.output()[-3000:]}") from None
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
