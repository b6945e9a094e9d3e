"""The path every real operator takes: a bouchon started on its own, trusted in advance.

Three processes, as on a test platform: the bouchon (`mssante-conformance bouchon
--admin-secret-file … --tls-cert … --tls-key …`, https), the reference operator pointed at it
(`reference up --detach --bouchon-url https://… --bouchon-ca-file …`; its token adapter
introspects over verified https), and the run (`run --operator-url … --bouchon-url https://…
--bouchon-ca-file …`, admin secret in the environment, no --other-idnat).

The API LPS outcomes equal the embedded run's (tests/e2e/test_api_lps_reference.py: every
check passed, verdict conforme in scope api_lps). LPS-CERT-03 runs because the expired AUTH_CLI
certificate of the operator's CA is given (--expired-client-cert/--expired-client-key), as a
named operator must give it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.psc.discovery import REALM_PATH
from mssante_conformance.reference.directory import load_directory

# tests/ is on sys.path (pytest's rootdir-relative import): the bouchon process helper.
from psc.served import ADMIN_SECRET, cli, served_bouchon

LPS = ("LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT")
RUN_DEADLINE_S = 600


def env_with_secret() -> dict[str, str]:
    return {**os.environ, "MSSANTE_BOUCHON_ADMIN_SECRET": ADMIN_SECRET}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_bouchon(tmp_path_factory.mktemp("remote-bouchon")) as running:
        yield running


@pytest.fixture(scope="module")
def reference(served, tmp_path_factory):
    """The reference operator, started by `reference up --detach` against the served bouchon."""
    workdir = tmp_path_factory.mktemp("reference")
    up = subprocess.run(cli() + ["reference", "up", "--detach", "--workdir", str(workdir),
                                 "--bouchon-url", served.url, "--bouchon-ca-file", str(served.ca_file)],
                        capture_output=True, text=True, env=env_with_secret(), timeout=120)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert f"{served.url}{REALM_PATH} (distant)" in up.stdout
        yield json.loads((workdir / "reference.json").read_text())
    finally:
        down = subprocess.run(cli() + ["reference", "down", "--workdir", str(workdir)],
                              capture_output=True, text=True, timeout=120)
        print(down.stdout, down.stderr)


@pytest.fixture(scope="module")
def remote_run(served, reference, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("report")
    mailbox = next(m for m in load_directory().mailboxes if m.kind == "PER" and m.holders)
    urls = [reference["endpoints"][k] for k in ("imap", "imaps", "smtp", "smtps")]
    argv = cli() + ["run", "--report-dir", str(report_dir), "--scope", "api_lps",
                    "--bal", mailbox.address, "--idnat", sorted(mailbox.holders)[0],
                    "--ca-file", reference["ca_file"],
                    "--client-cert", reference["auth_cli"]["cert"], "--client-key", reference["auth_cli"]["key"],
                    "--expired-client-cert", reference["expired_client"]["cert"],
                    "--expired-client-key", reference["expired_client"]["key"],
                    "--bouchon-url", served.url, "--bouchon-ca-file", str(served.ca_file)]
    for url in urls:
        argv += ["--operator-url", url]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env_with_secret(), timeout=RUN_DEADLINE_S)
    report_path = report_dir / "report.json"
    assert report_path.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout[-1500:])
    print(f"run against the remote https bouchon: {time.monotonic() - started:.1f} s")
    return done, json.loads(report_path.read_text(encoding="utf-8"))


def reasons(report: dict) -> str:
    return "\n".join(f'{c["id"]} {c["outcome"]}: {c.get("reason", "")}' for c in report["checks"]
                     if c["outcome"] != "passed")


def test_api_lps_outcomes_equal_the_embedded_run(remote_run):
    done, report = remote_run
    got = {c["id"]: c["outcome"] for c in report["checks"] if c["id"].rsplit("-", 1)[0] in LPS}
    assert set(got) == {i for i, c in load_catalog().checks.items() if c.family in LPS}, sorted(got)
    assert got == {check: "passed" for check in got}, reasons(report)
    assert "AttributeError" not in done.stdout + done.stderr
    assert report["scope"]["id"] == "api_lps"
    assert report["verdict"] == "conforme", reasons(report)
    assert done.returncode == 0, done.stdout[-2000:]


def test_report_records_the_remote_https_bouchon(served, remote_run):
    _, report = remote_run
    assert report["bouchon"]["mode"] == "remote"
    assert report["bouchon"]["issuer"] == served.url + REALM_PATH
    assert report["bouchon"]["issuer"].startswith("https://127.0.0.1:")
    # no --other-idnat: taken from the remote bouchon's identities, not the BAL's holder
    assert report["targets"]["other_idnat"] not in (None, report["targets"]["idnat"])
    assert ADMIN_SECRET not in json.dumps(report)


def test_the_reference_introspected_at_the_remote_bouchon(remote_run):
    _, report = remote_run
    expired = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-06")
    trial = next(v for k, v in expired["evidence"]["facts"].items() if k.endswith("/ expired"))
    assert any(call.get("endpoint") == "introspection" and call["answer"].get("active") is False
               for call in trial["appels_au_bouchon"]), trial
