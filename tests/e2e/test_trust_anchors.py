"""--trust-anchors against an operator whose certificates the harness did not issue.

A second, independent CA plays the real IGC Santé: the reference operator (real Postfix MX and
outbound MTA) runs with certificates issued by it, and so does the harness (its trust-space MTA
and its MX sink hold certificates of that CA too, as a real harness would hold IGC Santé TEST
ones). The harness reaches the operator as a *named* operator with a remote bouchon, as a real
operator would be reached:

- with ``--trust-anchors`` = that CA, OPI-IN-08 (the MX's server certificate) and OPI-OUT-03
  (the operator MTA's client certificate) pass, and so does every other OPI check;
- without ``--trust-anchors``, those two are ``not_applicable`` and name the parameter;
- with anchors of another CA (a look-alike, as the harness's own per-run test PKI is: same
  names, other keys), both fail, for the right reason.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mssante_conformance.pki import HARNESS_DOMAIN, TestPKI
from mssante_conformance.psc import Bouchon
from mssante_conformance.reference import ReferenceOperator
from mssante_conformance.trust import TrustAnchors, TrustWhitelist

RUN_DEADLINE_S = 300
OPI = ("OPI-IN", "OPI-OUT")


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.igc = TestPKI.ensure(tmp / "igc-sante-standin")  # the independent CA
        self.admin_secret = secrets.token_urlsafe(24)
        self.bouchon = Bouchon.start(tmp / "bouchon", admin_secret=self.admin_secret)
        self.sink_port = _free_port()
        self.operator = ReferenceOperator(tmp / "operator", self.bouchon, pki=self.igc,
                                          sink=("127.0.0.1", self.sink_port), harness_domain=HARNESS_DOMAIN)
        self.whitelist = TrustWhitelist([]).write(tmp / "listeblanche.xml")

    def start(self) -> "Setup":
        self.operator.start()
        self.whitelist = TrustWhitelist(self.operator.trust_whitelist).write(self.tmp / "listeblanche.xml")
        return self

    def stop(self) -> None:
        self.operator.stop()
        self.bouchon.stop()

    def run(self, report_dir: Path, *extra: str, k: str = "operator_interface", ca_file: bool = True) -> dict:
        mailbox = next(m for m in self.operator.mailboxes if m.kind == "PER" and m.holders)
        holder = sorted(mailbox.holders)[0]
        other = next(i.idnat for i in self.bouchon.identities if i.idnat not in mailbox.holders)
        urls = [self.operator.endpoints[k_] for k_ in ("imap", "smtp")]
        argv = [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(report_dir),
                "-k", k, *sum((["--operator-url", u] for u in urls), []),
                "--operator-mx", self.operator.endpoints["mx"], "--bal", mailbox.address,
                "--idnat", holder, "--other-idnat", other, "--bouchon-url", self.bouchon.url,
                *(["--ca-file", str(self.igc.ca_file)] if ca_file else []),
                "--sink-listen", f"127.0.0.1:{self.sink_port}", "--sink-domain", HARNESS_DOMAIN,
                "--trust-whitelist", str(self.whitelist),
                "--mta-cert", str(self.igc.harness_mta.cert), "--mta-key", str(self.igc.harness_mta.key),
                "--sink-cert", str(self.igc.harness_sink.cert), "--sink-key", str(self.igc.harness_sink.key),
                *extra]
        env = {**os.environ, "MSSANTE_BOUCHON_ADMIN_SECRET": self.admin_secret}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_DEADLINE_S, env=env)
        path = report_dir / "report.json"
        assert path.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
        return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    s = Setup(tmp_path_factory.mktemp("trust-anchors")).start()
    yield s
    s.stop()


def outcomes(report: dict) -> dict[str, dict]:
    return {c["id"]: c for c in report["checks"] if c["id"].startswith(OPI)}


def reasons(report: dict) -> str:
    return "\n".join(f'{c["id"]} {c["outcome"]}: {c.get("reason", "")}' for c in report["checks"]
                     if c["outcome"] != "passed")


def test_real_anchors_pass_the_certificate_checks(setup, tmp_path):
    # no --ca-file: the API LPS server certificates are verified against the anchors (plus the
    # system store), the MX's and the MTA's against the anchors alone
    report = setup.run(tmp_path, "--trust-anchors", str(setup.igc.ca_file), ca_file=False,
                       k="operator_interface or tls_offered_with_a_valid_certificate")
    got = outcomes(report)
    assert {k: v["outcome"] for k, v in got.items() if v["outcome"] != "passed"} == {}, reasons(report)
    assert len(got) == 13, sorted(got)  # 8 inbound + 5 outbound
    lps = {c["id"]: c["outcome"] for c in report["checks"] if c["id"] in ("LPS-IMAP-01", "LPS-SMTP-01")}
    assert lps == {"LPS-IMAP-01": "passed", "LPS-SMTP-01": "passed"}, reasons(report)
    # the report names the anchors used, by SHA-256 fingerprint and subject
    anchors = report["targets"]["trust_anchors"]
    expected = TrustAnchors.load(setup.igc.ca_file)
    assert [a["sha256"] for a in anchors["anchors"]] == [a.sha256 for a in expected.anchors]
    assert anchors["source"] == "--trust-anchors"
    assert any("TEST AC RACINE IGC-SANTE" in a["subject"] for a in anchors["anchors"])
    cert = next(v for k, v in got["OPI-OUT-03"]["evidence"]["facts"].items() if k.startswith("remise sortante"))
    assert cert["message_reçu"]["tls"]["client_certificate"]["chains_to_ca"] is True


def test_without_anchors_the_certificate_checks_say_what_is_missing(setup, tmp_path):
    report = setup.run(tmp_path, k="server_certificate_chains or igc_sante_client_certificate")
    got = outcomes(report)
    for check_id in ("OPI-IN-08", "OPI-OUT-03"):
        assert got[check_id]["outcome"] == "not_applicable", reasons(report)
        assert "--trust-anchors" in got[check_id]["reason"]
    assert report["targets"]["trust_anchors"] is None


def test_look_alike_anchors_fail_for_the_right_reason(setup, tmp_path):
    look_alike = TestPKI.ensure(tmp_path / "look-alike")  # as the harness's own test PKI: same names, other keys
    report = setup.run(tmp_path / "report", "--trust-anchors", str(look_alike.ca_file),
                       k="server_certificate_chains or igc_sante_client_certificate")
    got = outcomes(report)
    assert got["OPI-IN-08"]["outcome"] == "failed", reasons(report)
    assert "ne chaîne pas vers les ancres de confiance" in got["OPI-IN-08"]["reason"]
    assert got["OPI-OUT-03"]["outcome"] == "failed", reasons(report)
    assert "ne remonte pas à l'IGC Santé" in got["OPI-OUT-03"]["reason"]
    assert "signature invalide" in got["OPI-OUT-03"]["reason"]
    print("\n" + reasons(report))
