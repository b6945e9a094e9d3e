"""Issue 12 (console side): cookie flags, server-side session versions, login throttling,
exposure, and the modes of the console's files."""

import logging
import re
import sqlite3
import stat
from pathlib import Path

import pytest
import requests
from flask import Flask

from mssante_conformance.console import init_console
from mssante_conformance.console.store import ConsoleStore
from mssante_conformance.console.targets import console_exposed
from mssante_conformance.console.throttle import LoginThrottle

from .conftest import PASSWORDS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _login(base, name, password=None, session=None):
    s = session or requests.Session()
    token = TOKEN.search(s.get(f"{base}/console/connexion", timeout=10).text).group(1)
    r = s.post(f"{base}/console/connexion", timeout=10, allow_redirects=False,
               data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token})
    return s, r


def _cookie_header(response) -> str:
    return "; ".join(v for k, v in response.raw.headers.items() if k.lower() == "set-cookie")


# ------------------------------------------------------------------ cookies
def test_session_cookie_is_samesite_lax_and_httponly(served_console):
    _, r = _login(served_console.url, "alice")
    header = _cookie_header(r)
    assert "session=" in header
    assert "SameSite=Lax" in header and "HttpOnly" in header
    assert "Secure" not in header  # plain http on loopback: a Secure cookie would never come back


def test_session_cookie_is_secure_behind_an_https_public_url(tmp_path):
    app = Flask("console-https")
    console = init_console(app, tmp_path / "console", public_url="https://console.example.test")
    try:
        console.store.create_user("alice", "operator", PASSWORDS["alice"])
        client = app.test_client()
        page = client.get("/console/connexion", base_url="https://console.example.test")
        token = TOKEN.search(page.get_data(as_text=True)).group(1)
        r = client.post("/console/connexion", base_url="https://console.example.test",
                        data={"name": "alice", "password": PASSWORDS["alice"], "csrf_token": token})
        assert r.status_code == 302
        header = "; ".join(r.headers.getlist("Set-Cookie"))
        assert "Secure" in header and "SameSite=Lax" in header
    finally:
        console.shutdown()


# ------------------------------------------------------------------ sessions die server-side
def _captured_cookie(served_console):
    s, r = _login(served_console.url, "alice")
    assert r.status_code == 302
    assert s.get(f"{served_console.url}/console/lancements", timeout=10, allow_redirects=False).status_code == 200
    return s, dict(s.cookies)


def _replayed(served_console, cookies):
    return requests.get(f"{served_console.url}/console/lancements", cookies=cookies, timeout=10,
                        allow_redirects=False)


def test_a_cookie_captured_before_logout_is_refused_after_it(served_console):
    s, captured = _captured_cookie(served_console)
    assert _replayed(served_console, captured).status_code == 200
    token = TOKEN.search(s.get(f"{served_console.url}/console/", timeout=10).text).group(1)
    r = s.post(f"{served_console.url}/console/deconnexion", data={"csrf_token": token}, timeout=10,
               allow_redirects=False)
    assert r.status_code == 302
    r = _replayed(served_console, captured)
    assert r.status_code == 302 and "/console/connexion" in r.headers["Location"]


def test_a_cookie_captured_before_a_password_change_is_refused_after_it(served_console):
    _, captured = _captured_cookie(served_console)
    served_console.console.store.set_password("alice", "un-tout-nouveau-mot-de-passe")
    r = _replayed(served_console, captured)
    assert r.status_code == 302 and "/console/connexion" in r.headers["Location"]


def test_a_cookie_of_a_deleted_account_does_not_fit_its_namesake(served_console):
    _, captured = _captured_cookie(served_console)
    store = served_console.console.store
    store.delete_user("alice")
    store.create_user("alice", "admin", "un-autre-mot-de-passe")
    r = _replayed(served_console, captured)
    assert r.status_code == 302 and "/console/connexion" in r.headers["Location"]


def test_older_stores_gain_the_session_version_column(tmp_path):
    old = sqlite3.connect(tmp_path / "console.sqlite3")
    old.execute("CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
                " password_hash TEXT NOT NULL, created_at REAL NOT NULL)")
    old.execute("INSERT INTO users VALUES ('olga', 'operator', 'x', 0)")
    old.commit()
    old.close()
    store = ConsoleStore(tmp_path)
    assert store.user("olga").session_version == 0
    store.end_sessions("olga")
    assert store.user("olga").session_version == 1


# ------------------------------------------------------------------ login throttling
def test_logins_are_throttled_after_repeated_failures(served_console, caplog):
    caplog.set_level(logging.WARNING)
    s = requests.Session()
    codes = [_login(served_console.url, "alice", "pas-le-bon-mot-de-passe", s)[1].status_code
             for _ in range(8)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # the right password is refused too while the lock lasts
    _, r = _login(served_console.url, "alice", session=s)
    assert r.status_code == 429 and "réessayez dans" in r.text and int(r.headers["Retry-After"]) >= 1
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "login failed: account 'alice'" in logged
    assert "pas-le-bon-mot-de-passe" not in logged and PASSWORDS["alice"] not in logged
    # another account from the same address is locked too (per source address)
    _, r = _login(served_console.url, "bruno", session=s)
    assert r.status_code == 429


def test_throttle_delay_grows_and_expires():
    now = [1000.0]
    throttle = LoginThrottle(lock_after=4, base_delay_s=2, max_delay_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.failed("alice", "192.0.2.1") == 0
    assert throttle.failed("alice", "192.0.2.1") == 2
    assert throttle.failed("alice", "192.0.2.1") == 4
    assert throttle.retry_after("alice", "198.51.100.7") == 4   # the account is locked anywhere
    assert throttle.retry_after("bruno", "192.0.2.1") == 4      # and the address for any account
    for _ in range(10):
        throttle.failed("alice", "192.0.2.1")
    assert throttle.retry_after("alice", "192.0.2.1") == 60     # capped
    now[0] += 61
    assert throttle.retry_after("alice", "192.0.2.1") == 0
    throttle.succeeded("alice", "192.0.2.1")
    assert throttle.failed("alice", "192.0.2.1") == 0           # a success starts over


# ------------------------------------------------------------------ exposure
def test_console_exposed_follows_the_public_url_too():
    assert not console_exposed("127.0.0.1")
    assert not console_exposed("127.0.0.1", "http://localhost:8766")
    assert console_exposed("0.0.0.0")
    assert console_exposed("127.0.0.1", "https://console.example.test")  # behind a reverse proxy
    assert console_exposed("127.0.0.1", explicit=True)


# ------------------------------------------------------------------ file modes
def test_console_database_and_folder_are_private(tmp_path):
    folder = tmp_path / "console"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    store = ConsoleStore(folder)
    store.create_user("olga", "operator", "un-mot-de-passe-long")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.glob("console.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE((folder / "console.sqlite3").stat().st_mode) == 0o600


# ------------------------------------------------------------------ targets: resolution and organisations
def _org_console(served_console, resolver):
    console = served_console.console
    console.exposed = True
    console.resolver = resolver
    console.store.create_user("olga", "operator", "olga-mot-de-passe", organisation="operateur-x")
    console.store.allow("*.operateur-x.fr", "operateur-x")
    console.store.allow("*.operateur-b.fr", "operateur-b")
    return console


def _launch(served_console, name, password, urls):
    s, r = _login(served_console.url, name, password)
    assert r.status_code == 302
    token = TOKEN.search(s.get(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10).text).group(1)
    return s.post(f"{served_console.url}/console/jobs/api-lps-tls", timeout=10,
                  data={"target": "operator", "operator_urls": urls, "csrf_token": token})


@pytest.mark.parametrize("address, kind", [("127.0.0.1", "boucle locale"),
                                           ("10.1.2.3", "réseau privé"),
                                           ("169.254.169.254", "lien local"),
                                           ("::ffff:127.0.0.1", "boucle locale")])
def test_an_allowlisted_name_pointing_at_a_private_address_is_refused(served_console, address, kind):
    asked = []
    console = _org_console(served_console, lambda host, port: asked.append((host, port)) or [address])
    r = _launch(served_console, "olga", "olga-mot-de-passe", "imaps://imap.operateur-x.fr:993")
    assert r.status_code == 400
    assert "imap.operateur-x.fr mène à" in r.text and kind in r.text
    assert asked == [("imap.operateur-x.fr", 993)]
    assert console.store.runs() == []


def test_a_name_with_one_private_address_among_public_ones_is_refused(served_console):
    console = _org_console(served_console, lambda host, port: ["93.184.216.34", "10.0.0.7"])
    r = _launch(served_console, "olga", "olga-mot-de-passe", "imaps://imap.operateur-x.fr:993")
    assert r.status_code == 400 and "10.0.0.7" in r.text
    assert console.store.runs() == []


def test_another_organisations_target_is_refused(served_console):
    console = _org_console(served_console, lambda host, port: ["93.184.216.34"])
    r = _launch(served_console, "olga", "olga-mot-de-passe", "imaps://imap.operateur-b.fr:993")
    assert r.status_code == 400 and "Cible non autorisée sur cette plateforme : imap.operateur-b.fr" in r.text
    assert console.store.runs() == []


def test_entries_are_filtered_by_organisation(tmp_path):
    store = ConsoleStore(tmp_path)
    store.allow("*.operateur-x.fr", "operateur-x")
    store.allow("10.9.0.0/16", "operateur-b")
    store.allow("mx.plateforme.test")
    olga = store.create_user("olga", "operator", "olga-mot-de-passe", organisation="operateur-x")
    nobody = store.create_user("noemie", "operator", "noemie-mot-de-passe")
    admin = store.create_user("ada", "admin", "ada-mot-de-passe")
    assert store.allowlist_for(olga) == ["*.operateur-x.fr"]
    assert store.allowlist_for(nobody) == []
    assert store.allowlist_for(admin) == ["*.operateur-x.fr", "10.9.0.0/16", "mx.plateforme.test"]
    assert ("mx.plateforme.test", "") in store.allowlist_entries()


def _submission(urls, allowlist, resolver, exposed=True):
    from werkzeug.datastructures import MultiDict

    from mssante_conformance.console.forms import parse_submission
    from mssante_conformance.console.jobs import JOBS_BY_ID

    return parse_submission(JOBS_BY_ID["api-lps-tls"], MultiDict({"target": "operator", "operator_urls": urls}),
                            MultiDict(), Path("/nonexistent"), allowlist=allowlist, exposed=exposed,
                            resolver=resolver)


def test_an_accepted_name_is_pinned_to_the_checked_address():
    sub = _submission("imaps://imap.operateur-x.fr:993", ["*.operateur-x.fr"], lambda h, p: ["93.184.216.34"])
    assert sub.errors == {}
    assert sub.values["resolve"] == ["imap.operateur-x.fr:93.184.216.34"]
    from mssante_conformance.settings import build_settings, to_argv

    argv = to_argv(build_settings(sub.values))
    assert "--resolve" in argv and "imap.operateur-x.fr:93.184.216.34" in argv


def test_a_private_address_allowlisted_by_ip_is_accepted():
    sub = _submission("imaps://imap.operateur-x.fr:993", ["*.operateur-x.fr", "10.1.0.0/16"],
                      lambda h, p: ["10.1.2.3"])
    assert sub.errors == {} and sub.values["resolve"] == ["imap.operateur-x.fr:10.1.2.3"]


def test_probes_connect_to_the_pinned_address_keeping_the_name():
    import socket as socketlib

    from mssante_conformance.mail.connection import connect_to
    from mssante_conformance.resolution import install_pins

    with socketlib.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        install_pins(["imap.operateur-x.invalid:127.0.0.1"])
        try:
            sock = connect_to("imap.operateur-x.invalid", port, timeout=5)  # no DNS asked
            sock.close()
        finally:
            install_pins([])


def test_resolve_option_is_validated():
    from mssante_conformance.settings import SettingsError, build_settings

    assert build_settings({"resolve": ["imap.op.fr:192.0.2.1"]}).resolve == ("imap.op.fr:192.0.2.1",)
    with pytest.raises(SettingsError, match="--resolve"):
        build_settings({"resolve": ["imap.op.fr:pas-une-ip"]})


def test_tls_scans_are_pinned_too():
    from mssante_conformance.mail.endpoint import parse_operator_url
    from mssante_conformance.mail.tls_scan import _request
    from mssante_conformance.resolution import install_pins

    install_pins(["imap.operateur-x.invalid:127.0.0.1"])
    try:
        request = _request(parse_operator_url("imaps://imap.operateur-x.invalid:993"), None, 5,
                           ("tls1_0",), False)
    finally:
        install_pins([])
    location = request.server_location
    assert (location.hostname, location.ip_address) == ("imap.operateur-x.invalid", "127.0.0.1")
    assert request.network_configuration.tls_server_name_indication == "imap.operateur-x.invalid"
