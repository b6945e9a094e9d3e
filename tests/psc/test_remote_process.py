"""RemoteBouchon against a real bouchon process speaking HTTPS (`bouchon --tls-cert …`).

Every BouchonPort member is used and checked against what the served bouchon really does;
its certificate is verified (only its own CA does); the reference operator's token adapter
and `reference up`'s bouchon link reach it over https too.
"""

from __future__ import annotations

import json

import jwt
import pytest
import requests

from mssante_conformance.pki import TestPKI
from mssante_conformance.psc import BouchonPort, Identity, RemoteBouchon, RemoteBouchonError, TokenVariant
from mssante_conformance.psc.discovery import FOREIGN_REALM_PATH, REALM_PATH
from mssante_conformance.reference import token_adapter

from .conftest import JEAN
from .served import ADMIN_SECRET, served_bouchon

TIMEOUT = 10


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_bouchon(tmp_path_factory.mktemp("served")) as running:
        yield running


@pytest.fixture(scope="module")
def remote(served):
    return RemoteBouchon(served.url, ADMIN_SECRET, ca_file=served.ca_file)


def test_the_command_prints_https_urls_and_no_secret(served):
    out = served.output()
    assert f"émetteur (issuer)    : {served.url}{REALM_PATH}" in out and served.url.startswith("https://")
    assert f"découverte           : {served.url}{REALM_PATH}/.well-known/wallet-openid-configuration" in out
    assert "TLS                  : certificat" in out
    operator_secret = json.loads((served.data_dir / "clients.json").read_text())["operateur-reference"]["secret"]
    assert ADMIN_SECRET not in out and operator_secret not in out


def test_every_member_of_the_port(served, remote):
    verify = str(served.ca_file)
    assert isinstance(remote, BouchonPort)
    assert remote.url == served.url and remote.ca_file == served.ca_file
    assert remote.issuer == served.url + REALM_PATH
    assert remote.foreign_issuer == served.url + FOREIGN_REALM_PATH
    # the URLs derived on our side are the ones the bouchon publishes
    meta = requests.get(remote.discovery_url, verify=verify, timeout=TIMEOUT).json()
    assert meta["issuer"] == remote.issuer
    assert (meta["jwks_uri"], meta["introspection_endpoint"], meta["token_endpoint"]) == \
        (remote.jwks_uri, remote.introspection_endpoint, remote.token_endpoint)
    # identities: the shipped test professionals, typed
    identities = remote.identities
    assert all(isinstance(i, Identity) for i in identities) and len(identities) >= 2
    assert any(i.idnat == JEAN and i.family_name for i in identities)
    # mint, then check the token with the published keys
    minted = remote.mint(TokenVariant.VALID, JEAN)
    jwks = jwt.PyJWKSet.from_dict(requests.get(remote.jwks_uri, verify=verify, timeout=TIMEOUT).json())
    header = jwt.get_unverified_header(minted.token)
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    claims = jwt.decode(minted.token, key.key, algorithms=["RS256"], issuer=remote.issuer,
                        options={"verify_aud": False})
    assert claims["SubjectNameID"] == JEAN
    # the operator client is the one the bouchon stored, and introspection accepts it
    client = remote.operator_client
    stored = json.loads((served.data_dir / "clients.json").read_text())
    assert stored[client.client_id]["secret"] == client.client_secret
    assert client.client_secret not in repr(client) and ADMIN_SECRET not in repr(remote)
    answer = requests.post(remote.introspection_endpoint, data={"token": minted.token},
                           auth=(client.client_id, client.client_secret), verify=verify, timeout=TIMEOUT).json()
    assert answer["active"] is True and answer["SubjectNameID"] == JEAN
    granted = requests.post(remote.token_endpoint, data={"grant_type": "client_credentials"},
                            auth=(client.client_id, client.client_secret), verify=verify, timeout=TIMEOUT)
    assert granted.status_code == 200 and granted.json()["token_type"].lower() == "bearer"
    # the call log shows that introspection, by that client, of that token
    calls = remote.calls(endpoint="introspection")
    assert calls and calls[-1].token_fingerprint == minted.fingerprint
    assert calls[-1].client_id == client.client_id and calls[-1].answer["active"] is True
    assert remote.calls(since=calls[-1].time + 1000) == []


def test_the_certificate_is_verified(served, tmp_path):
    other_ca = TestPKI.ensure(tmp_path / "other").ca_file  # a CA that did not sign the bouchon
    for ca_file in (None, other_ca):
        with pytest.raises(RemoteBouchonError, match="certificat HTTPS du bouchon .* non vérifié"):
            RemoteBouchon(served.url, ADMIN_SECRET, ca_file=ca_file).identities
    with pytest.raises(RemoteBouchonError, match="secret d'administration refusé"):
        RemoteBouchon(served.url, "un-autre-secret-0123456789", ca_file=served.ca_file).mint("valid", JEAN)
    with pytest.raises(RemoteBouchonError, match="IDNAT inconnu"):
        RemoteBouchon(served.url, ADMIN_SECRET, ca_file=served.ca_file).mint("valid", "1")


def test_token_adapter_introspects_over_verified_https(served, remote, tmp_path):
    client = remote.operator_client
    config = {"introspection_endpoint": remote.introspection_endpoint, "client_id": client.client_id,
              "client_secret": client.client_secret, "jwks_uri": remote.jwks_uri, "issuer": remote.issuer,
              "ca_file": str(served.ca_file)}
    token = remote.mint("valid", JEAN).token
    assert token_adapter.introspect(config, token)["SubjectNameID"] == JEAN
    expired = remote.mint("expired", JEAN).token
    assert token_adapter.introspect(config, expired)["active"] is False
    # signature checked with the JWKS fetched over https (the no_expiry_check deviation's path)
    assert token_adapter.validate_ignoring_expiry(config, expired)["SubjectNameID"] == JEAN
    other_ca = TestPKI.ensure(tmp_path / "other").ca_file
    for wrong in ({**config, "ca_file": str(other_ca)}, {**config, "ca_file": None}):
        with pytest.raises(OSError):  # the adapter answers 503: never an acceptance
            token_adapter.introspect(wrong, token)


def test_reference_up_link_reads_the_operator_client(served, monkeypatch):
    from mssante_conformance.cli import CommandFailed
    from mssante_conformance.cli.reference_cmd import ADMIN_SECRET_ENV, remote_bouchon

    monkeypatch.setenv(ADMIN_SECRET_ENV, ADMIN_SECRET)
    link = remote_bouchon(served.url, served.ca_file)
    assert link.issuer == served.url + REALM_PATH and link.ca_file == served.ca_file
    stored = json.loads((served.data_dir / "clients.json").read_text())
    assert stored[link.operator_client.client_id]["secret"] == link.operator_client.client_secret
    with pytest.raises(CommandFailed, match="non vérifié"):
        remote_bouchon(served.url, None)


@pytest.mark.parametrize("extra, message", [
    (["--bouchon-ca-file", "/nonexistent/ca.pem"], "--bouchon-ca-file : fichier introuvable"),
    ([], "définir MSSANTE_BOUCHON_ADMIN_SECRET, ou MSSANTE_REFERENCE_CLIENT_ID"),
])
def test_reference_up_bad_bouchon_flags_are_one_line(served, tmp_path, monkeypatch, capsys, extra, message):
    from mssante_conformance.cli import main

    for name in ("MSSANTE_BOUCHON_ADMIN_SECRET", "MSSANTE_REFERENCE_CLIENT_ID", "MSSANTE_REFERENCE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code = main(["reference", "up", "--workdir", str(tmp_path), "--bouchon-url", served.url, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "reference.json").exists()
