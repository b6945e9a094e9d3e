"""`monitor --once` against real reference operators (Dovecot + Postfix on loopback), as ANS
would run it against production: the runs' own bouchon is not the one the operators trust.

* Round 1: a conformant instance, a defective one (``plaintext_auth``) and a listener that never
  answers (deadline 8 s). The defective one is flagged (its two checks failed), the conformant
  one is not, the silent one ends ``error`` within its deadline while the others complete.
* The defect is "fixed": the target's endpoints are now served by the conformant profile.
  Round 2 shows the recovery of both checks and no regression; the history holds both.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from mssante_conformance.monitor.history import MonitorHistory
from mssante_conformance.pki import TestPKI
from mssante_conformance.reference import ReferenceOperator
from mssante_conformance.reference.profiles import get_profile

pytestmark = pytest.mark.slow

DEFECT = "plaintext_auth"
SILENT_DEADLINE_S = 8  # shorter than the run's own breaker: the deadline is what ends it
ROUND_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from mssante_conformance.psc import Bouchon

    base = tmp_path_factory.mktemp("monitor-e2e")
    pki = TestPKI.ensure(base / "pki")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # connections complete in the kernel; nobody ever answers
    with Bouchon.start(base / "bouchon", host="127.0.0.1", port=0) as bouchon:
        good = ReferenceOperator(base / "ref-good", bouchon, pki=pki).start()
        bad = ReferenceOperator(base / "ref-bad", bouchon, profile=DEFECT, pki=pki).start()
        try:
            yield {"base": base, "pki": pki, "bouchon": bouchon, "good": good, "bad": bad,
                   "silent": silent.getsockname()[1]}
        finally:
            for op in (good, bad):
                op.stop()
            silent.close()


def target_entry(name: str, op: ReferenceOperator) -> str:
    box = next(m for m in op.mailboxes if m.holders)
    e = op.endpoints
    return f"""
[[targets]]
name = "{name}"
organisation = "{name}"
operator_urls = ["{e['imap']}", "{e['imaps']}", "{e['smtp']}", "{e['smtps']}"]
bal = "{box.address}"
idnat = "{box.holders[0]}"
ca_file = "{op.ca_file}"
client_cert = "{op.auth_cli.cert}"
client_key = "{op.auth_cli.key}"
expired_client_cert = "{op.pki.expired_client.cert}"
expired_client_key = "{op.pki.expired_client.key}"
"""


def monitor(world, targets: str, name: str) -> tuple[int, dict, float]:
    path = world["base"] / f"{name}.toml"
    path.write_text(targets, encoding="utf-8")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "monitor", "--once", "--json",
                           "--targets", str(path), "--data-dir", str(world["base"] / "data")],
                          capture_output=True, text=True, timeout=ROUND_TIMEOUT_S)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout), time.monotonic() - started


@pytest.fixture(scope="module")
def first_round(world):
    silent = f"""
[[targets]]
name = "op-muet"
operator_urls = ["imaps://127.0.0.1:{world['silent']}"]
deadline = "{SILENT_DEADLINE_S}s"
"""
    targets = target_entry("op-conforme", world["good"]) + target_entry("op-defaillant", world["bad"]) + silent
    code, out, elapsed = monitor(world, targets, "round1")
    return code, {t["cible"]: t for t in out["cibles"]}, elapsed


def test_the_defective_operator_is_flagged_and_the_others_are_not(first_round):
    code, by_name, _ = first_round
    expected = get_profile(DEFECT).expected_failures("monitoring")
    assert expected == {"LPS-IMAP-02", "LPS-SMTP-02"}
    good, bad = by_name["op-conforme"], by_name["op-defaillant"]
    assert (good["statut"], good["echecs"], good["erreurs"], good["verdict"]) == ("finished", 0, 0, "conforme"), good
    assert bad["statut"] == "finished" and bad["verdict"] == "non_conforme_bloquante", bad
    assert bad["echecs"] == 2 and bad["erreurs"] == 0, bad
    assert good["reussis"] == bad["reussis"] + 2 > 20
    # a first run has no past: nothing regressed, the exit status says no regression
    assert not good["regressions"] and not bad["regressions"] and code == 0


def test_a_silent_target_ends_in_error_within_its_deadline(first_round, world):
    _, by_name, elapsed = first_round
    silent = by_name["op-muet"]
    assert silent["statut"] == "error" and silent["verdict"] is None
    assert "délai dépassé" in silent["message"], silent
    assert silent["duree_s"] <= SILENT_DEADLINE_S + 5, silent
    # the others completed, and took longer than the silent one: they were not held up by it
    assert by_name["op-conforme"]["statut"] == by_name["op-defaillant"]["statut"] == "finished"


def test_after_the_fix_a_recovery_and_no_regression(first_round, world):
    # The operator "fixes" the defect: its endpoints are now served by the conformant profile
    # (the instance of op-conforme; a restart on the same ports would wait for TIME_WAIT).
    code, out, _ = monitor(world, target_entry("op-defaillant", world["good"]), "round2")
    (result,) = out["cibles"]
    assert result["retablissements"] == ["LPS-IMAP-02", "LPS-SMTP-02"], result
    assert result["regressions"] == [] and result["echecs"] == 0 and code == 0
    history = MonitorHistory(world["base"] / "data")
    runs = history.runs("op-defaillant")
    assert len(runs) == 2 and runs[1].outcomes["LPS-IMAP-02"] == "failed" and runs[0].outcomes["LPS-IMAP-02"] == "passed"
    assert all(r.report_path and r.harness_version and r.catalog_version for r in runs)
    assert history.open_regressions("op-defaillant") == []
