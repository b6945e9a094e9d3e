"""progress.jsonl (read live by the console) carries reasons through the secret registry."""

import json
from types import SimpleNamespace

from mssante_conformance.secret_registry import SecretRegistry
from mssante_conformance.outcomes import CheckResult, Outcome
from mssante_conformance.plugin import PROGRESS_FILE, SECRETS, SETTINGS, _progress


def test_progress_reasons_are_redacted(tmp_path):
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldGU"
    registry = SecretRegistry()
    fp = registry.add(token)
    config = SimpleNamespace(stash={SETTINGS: SimpleNamespace(report_dir=tmp_path), SECRETS: registry})
    _progress(config, CheckResult("LPS-IMAP-06", Outcome.FAILED, f"le serveur a renvoyé {token} tel quel"))
    line = (tmp_path / PROGRESS_FILE).read_text("utf-8")
    assert token not in line
    assert json.loads(line)["reason"] == f"le serveur a renvoyé <jeton {fp}> tel quel"
