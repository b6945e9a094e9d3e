"""Pure logic of the bouchon: issuer safety, identities file, session rules, keys on disk."""

from __future__ import annotations

import json
import stat

import pytest

from mssante_conformance.psc.clients import is_loopback_uri, load_clients
from mssante_conformance.psc.config import BouchonConfig, UnsafeIssuer, check_public_url
from mssante_conformance.psc.identities import IdentitiesError, load_identities
from mssante_conformance.psc.keys import KeyRing
from mssante_conformance.psc.sessions import SessionPolicy
from mssante_conformance.psc.store import SsoSession


@pytest.mark.parametrize("url", [
    "https://auth.esw.esante.gouv.fr", "https://auth.bas.psc.esante.gouv.fr/",
    "https://wallet.bas.psc.esante.gouv.fr", "https://AUTH.ESW.ESANTE.GOUV.FR.", "http://esante.gouv.fr",
])
def test_refuses_to_be_real_psc(url):
    with pytest.raises(UnsafeIssuer):
        check_public_url(url)
    with pytest.raises(UnsafeIssuer):
        BouchonConfig(data_dir="x", public_url=url)


@pytest.mark.parametrize("url", ["ftp://x", "nohost", "http://x/?a=1", "http://"])
def test_rejects_malformed_public_urls(url):
    with pytest.raises(ValueError):
        check_public_url(url)


def test_accepts_ordinary_urls():
    assert check_public_url("https://bouchon.example.org/") == "https://bouchon.example.org"
    assert BouchonConfig(data_dir="x", public_url="http://127.0.0.1:8").issuer == \
        "http://127.0.0.1:8/auth/realms/esante-wallet"


def test_shipped_identities_include_the_sandbox_ones():
    idnats = {i.idnat for i in load_identities()}
    assert {"899700366240", "899700771191", "899700427885"} <= idnats and len(idnats) >= 5
    for identity in load_identities():
        assert identity.idnat.startswith("8997") and identity.structure_id[0] in "13"
        assert len(identity.structure_id) == (10 if identity.structure_id[0] == "1" else 15)


def test_user_identities_extend_and_replace(tmp_path):
    (tmp_path / "identities.json").write_text(json.dumps({"identities": [
        {"idnat": "899700366240", "given_name": "Jeanne", "family_name": "Dupont"},
        {"idnat": "899700999999", "given_name": "Léa", "family_name": "Petit", "profession": "Médecin"},
    ]}), encoding="utf-8")
    by_idnat = {i.idnat: i for i in load_identities(tmp_path)}
    assert by_idnat["899700366240"].given_name == "Jeanne"
    assert by_idnat["899700999999"].family_name == "Petit" and "899700771191" in by_idnat


@pytest.mark.parametrize("content", ["{", "[]", '{"identities": [{"idnat": "8997"}]}',
                                     '{"identities": [{"idnat": "x y", "given_name": "a", "family_name": "b"}]}',
                                     '{"identities": [{"idnat": "899700000001", "given_name": "a", "family_name": "b", "age": "3"}]}'])
def test_bad_identities_file_is_a_clear_error(tmp_path, content):
    (tmp_path / "identities.json").write_text(content, encoding="utf-8")
    with pytest.raises(IdentitiesError):
        load_identities(tmp_path)


def test_session_policy():
    policy = SessionPolicy(idle_s=900, max_s=14400)
    session = SsoSession("s", "899700366240", "CARD", created_at=0, last_seen=0, ended=False)
    assert policy.is_alive(session, 899) and not policy.is_alive(session, 900)
    busy = SsoSession("s", "899700366240", "CARD", created_at=0, last_seen=14399, ended=False)
    assert policy.is_alive(busy, 14399.5) and not policy.is_alive(busy, 14400)
    assert not policy.is_alive(SsoSession("s", "x", "CARD", 0, 0, True), 1)
    assert not policy.is_alive(None, 1)


def test_keys_and_clients_are_private_and_reused(tmp_path):
    first = KeyRing.load(tmp_path)
    again = KeyRing.load(tmp_path)
    assert first.psc.kid == again.psc.kid != first.foreign.kid != first.attacker.kid
    for name in ("psc", "foreign", "attacker"):
        assert stat.S_IMODE((tmp_path / "keys" / f"{name}.pem").stat().st_mode) == 0o600
    clients, created = load_clients(tmp_path)
    assert created and stat.S_IMODE((tmp_path / "clients.json").stat().st_mode) == 0o600
    again_clients, created_again = load_clients(tmp_path)
    assert not created_again
    assert again_clients["operateur-reference"].client_secret == clients["operateur-reference"].client_secret
    assert clients["operateur-reference"].client_secret not in repr(clients["operateur-reference"])


@pytest.mark.parametrize("uri, loopback", [
    ("http://127.0.0.1:5/cb", True), ("https://localhost/cb", True), ("http://[::1]:8/x", True),
    ("http://127.0.0.1.evil.example/cb", False), ("https://evil.example/cb", False),
    ("javascript:alert(1)", False), ("http://127.0.0.1/cb#frag", False),
])
def test_loopback_redirects(uri, loopback):
    assert is_loopback_uri(uri) is loopback
