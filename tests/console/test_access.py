"""Accounts, sessions and CSRF over real HTTP (requests against the served console)."""

import re

import pytest
import requests

from mssante_conformance.console.access import csrf_valid
from mssante_conformance.console.store import AccountError, ConsoleStore

from .conftest import PASSWORDS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _login(base, name, password=None):
    s = requests.Session()
    page = s.get(f"{base}/console/connexion", timeout=10)
    token = TOKEN.search(page.text).group(1)
    r = s.post(f"{base}/console/connexion", timeout=10, allow_redirects=False,
               data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token})
    return s, r


def test_csrf_compare():
    assert csrf_valid("abc", "abc")
    assert not csrf_valid("abc", "abd")
    assert not csrf_valid("abc", None) and not csrf_valid(None, None) and not csrf_valid("", "")


def test_login_wrong_password_refused(served_console):
    _, r = _login(served_console.url, "alice", "pas-le-bon-mot-de-passe")
    assert r.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in r.text


def test_pages_need_a_session(served_console):
    r = requests.get(f"{served_console.url}/console/lancements", timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/console/connexion" in r.headers["Location"]


def test_post_without_csrf_token_refused(served_console):
    s, r = _login(served_console.url, "alice")
    assert r.status_code == 302
    r = s.post(f"{served_console.url}/console/jobs/api-lps-tls", data={"target": "reference"}, timeout=10)
    assert r.status_code == 400 and "anti-CSRF" in r.text
    r = s.post(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10,
               data={"target": "reference", "csrf_token": "forged-token"})
    assert r.status_code == 400
    assert served_console.console.store.runs() == []


def test_login_without_csrf_token_refused(served_console):
    r = requests.post(f"{served_console.url}/console/connexion", timeout=10,
                      data={"name": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 400


def test_auditor_cannot_launch(served_console):
    s, _ = _login(served_console.url, "audrey")
    token = TOKEN.search(s.get(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10).text).group(1)
    r = s.post(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10,
               data={"target": "reference", "csrf_token": token})
    assert r.status_code == 403
    assert served_console.console.store.runs() == []


def test_exposed_console_refuses_unlisted_targets(served_console):
    served_console.console.exposed = True
    s, _ = _login(served_console.url, "alice")
    token = TOKEN.search(s.get(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10).text).group(1)
    r = s.post(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10,
               data={"target": "operator", "operator_urls": "imaps://127.0.0.2:993", "csrf_token": token})
    assert r.status_code == 400
    assert "Cible non autorisée sur cette plateforme : 127.0.0.2" in r.text
    assert served_console.console.store.runs() == []


def test_passwords_are_hashed_and_checked(tmp_path):
    store = ConsoleStore(tmp_path)
    store.create_user("carole", "admin", "un-mot-de-passe-long")
    assert b"un-mot-de-passe-long" not in (tmp_path / "console.sqlite3").read_bytes()
    assert store.authenticate("carole", "un-mot-de-passe-long").role == "admin"
    assert store.authenticate("carole", "autre-mot-de-passe") is None
    assert store.authenticate("personne", "un-mot-de-passe-long") is None
    with pytest.raises(AccountError):
        store.create_user("carole", "operator", "un-mot-de-passe-long")
    with pytest.raises(AccountError):
        store.create_user("dan", "operator", "court")
    with pytest.raises(AccountError):
        store.create_user("dan", "superuser", "un-mot-de-passe-long")


def test_accounts_carry_their_organisation_and_old_stores_gain_the_column(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "console.sqlite3")
    old.execute("CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
                " password_hash TEXT NOT NULL, created_at REAL NOT NULL)")
    old.commit()
    old.close()
    store = ConsoleStore(tmp_path)
    store.create_user("olga", "operator", "un-mot-de-passe-long", organisation="operateur-x")
    store.create_user("audrey", "auditor", "un-mot-de-passe-long")
    assert store.user("olga").organisation == "operateur-x"
    assert store.authenticate("olga", "un-mot-de-passe-long").organisation == "operateur-x"
    assert store.user("audrey").organisation == ""
    with pytest.raises(AccountError):
        store.create_user("eve", "operator", "un-mot-de-passe-long", organisation="x y")


def test_runs_against_an_operator_verify_the_https_bouchon_with_its_ca(served_console, tmp_path):
    """A bouchon served over https by a private CA (`bouchon --tls-cert … --tls-ca …`) hands that
    CA to the runs its console launches, or they could not verify it (error for every check)."""
    ca = tmp_path / "bouchon-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    served_console.console.bouchon_url = "https://127.0.0.1:9"
    served_console.console.bouchon_ca_file = ca
    s, _ = _login(served_console.url, "alice")
    token = TOKEN.search(s.get(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10).text).group(1)
    r = s.post(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10,
               data={"target": "operator", "operator_urls": "imaps://127.0.0.2:9", "csrf_token": token})
    assert r.status_code == 200, r.text[:500]
    (run,) = served_console.console.store.runs()
    argv = list(run.argv)
    assert argv[argv.index("--bouchon-url") + 1] == "https://127.0.0.1:9"
    assert argv[argv.index("--bouchon-ca-file") + 1] == str(ca)
