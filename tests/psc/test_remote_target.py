"""Issue 14, item 1: a run with --bouchon-url and no --other-idnat.

Before: every check ended `error` with "AttributeError: 'RemoteBouchon' object has no
attribute 'identities'". Now the other IDNAT comes from the remote bouchon's identities, and a
bouchon that cannot be used is one clear French reason.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mssante_conformance.secret_registry import SecretRegistry
from mssante_conformance.psc import Bouchon, RemoteBouchon
from mssante_conformance.settings import ADMIN_SECRET_ENV, build_settings
from mssante_conformance.target import TargetError, open_target

from .conftest import JEAN

SECRET = "s3cret-admin-de-test-0123456789"
BAL = "jean.dupont@operateur-reference.test"


@pytest.fixture(scope="module")
def admin_bouchon(tmp_path_factory):
    with Bouchon.start(tmp_path_factory.mktemp("remote-target"), admin_secret=SECRET) as running:
        yield running


def settings_for(url: str, **extra):
    return build_settings({"operator_urls": ("imap://127.0.0.1:9",), "bal": BAL, "idnat": JEAN,
                           "bouchon_url": url, **extra})


def test_other_idnat_comes_from_the_remote_identities(admin_bouchon, monkeypatch):
    monkeypatch.setenv(ADMIN_SECRET_ENV, SECRET)
    with open_target(settings_for(admin_bouchon.url), SecretRegistry()) as target:
        assert isinstance(target.bouchon, RemoteBouchon)
        expected = next(i.idnat for i in admin_bouchon.identities if i.idnat != JEAN)
        assert target.other_idnat == expected
        minted = target.mint("valid")
        assert minted.claims["SubjectNameID"] == JEAN and target.secrets.leaks(minted.token)


@pytest.mark.parametrize("url, secret, reason", [
    ("http://127.0.0.1:9", SECRET, "bouchon distant inutilisable : bouchon injoignable"),
    (None, "un-autre-secret-0123456789", "secret d'administration refusé"),
])
def test_an_unusable_remote_bouchon_is_one_clear_reason(admin_bouchon, monkeypatch, url, secret, reason):
    monkeypatch.setenv(ADMIN_SECRET_ENV, secret)
    with pytest.raises(TargetError, match=reason):
        with open_target(settings_for(url or admin_bouchon.url), SecretRegistry()):
            pass


def test_bouchon_ca_file_needs_a_bouchon_url(tmp_path):
    from mssante_conformance.settings import SettingsError

    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    with pytest.raises(SettingsError, match="--bouchon-ca-file sans --bouchon-url"):
        build_settings({"operator_urls": ("imap://127.0.0.1:9",), "bouchon_ca_file": str(ca)})
    with pytest.raises(SettingsError, match="fichier introuvable"):
        settings_for("https://127.0.0.1:9", bouchon_ca_file=str(tmp_path / "absent.pem"))


def test_run_command_with_a_remote_bouchon_and_no_other_idnat(admin_bouchon, tmp_path):
    """The issue's command line; the operator is unreachable (port 9), so checks end `error`
    for that reason, and never for an AttributeError."""
    argv = [sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir", str(tmp_path),
            "--operator-url", "imap://127.0.0.1:9", "--bal", BAL, "--idnat", JEAN,
            "--bouchon-url", admin_bouchon.url, "--network-timeout", "3", "-k", "LPS-IMAP-01 or LPS-IMAP-06"]
    env = {**__import__("os").environ, ADMIN_SECRET_ENV: SECRET}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    ran = [c for c in report["checks"] if c["outcome"] != "not_applicable"]
    assert ran, done.stdout[-2000:]
    for check in ran:
        assert "AttributeError" not in check.get("reason", ""), check
        assert check["outcome"] == "error" and "127.0.0.1:9" in check.get("reason", ""), check
    assert report["targets"]["other_idnat"] not in (None, JEAN)
    assert report["bouchon"] == {"issuer": admin_bouchon.issuer, "mode": "remote"}
