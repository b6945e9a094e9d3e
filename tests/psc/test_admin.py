"""Test-only admin API and RemoteBouchon."""

from __future__ import annotations

import jwt
import pytest
import requests

from mssante_conformance.psc import Bouchon, RemoteBouchon, RemoteBouchonError, TokenVariant

from .conftest import JEAN, TIMEOUT

SECRET = "s3cret-admin-de-test-0123456789"


@pytest.fixture(scope="module")
def admin_bouchon(tmp_path_factory):
    with Bouchon.start(tmp_path_factory.mktemp("admin"), admin_secret=SECRET) as running:
        yield running


def test_admin_api_is_absent_without_secret(bouchon):
    for path in ("/_admin/info", "/_admin/calls", "/_admin/operator-client"):
        answer = requests.get(bouchon.url + path, timeout=TIMEOUT,
                              headers={"Authorization": f"Bearer {SECRET}"})
        assert answer.status_code == 404
    assert requests.post(bouchon.url + "/_admin/mint", json={}, timeout=TIMEOUT).status_code == 404
    with pytest.raises(RemoteBouchonError, match="absente"):
        RemoteBouchon(bouchon.url, SECRET).mint("valid", JEAN)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer faux"},
                                     {"Authorization": f"Basic {SECRET}"},
                                     {"Authorization": f"Bearer {SECRET}x"}])
def test_admin_api_refuses_a_wrong_secret(admin_bouchon, headers):
    answer = requests.post(admin_bouchon.url + "/_admin/mint", json={"variant": "valid", "idnat": JEAN},
                           headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 401 and "token" not in answer.json()


def test_remote_bouchon_mints_and_reads_calls(admin_bouchon):
    remote = RemoteBouchon(admin_bouchon.url, SECRET)
    assert remote.issuer == admin_bouchon.issuer
    assert SECRET not in repr(remote)
    minted = remote.mint(TokenVariant.EXPIRED, idnat=JEAN)
    assert minted.variant is TokenVariant.EXPIRED
    assert jwt.decode(minted.token, options={"verify_signature": False})["SubjectNameID"] == JEAN
    op = admin_bouchon.operator_client
    requests.post(admin_bouchon.introspection_endpoint, data={"token": minted.token},
                  auth=(op.client_id, op.client_secret), timeout=TIMEOUT)
    calls = remote.calls(endpoint="introspection")
    assert calls[-1].token_fingerprint == minted.fingerprint and calls[-1].answer["active"] is False
    assert remote.calls(since=calls[-1].time + 1000) == []


def test_admin_bad_requests(admin_bouchon):
    auth = {"Authorization": f"Bearer {SECRET}"}
    for body in ({"variant": "bogus", "idnat": JEAN}, {"variant": "valid", "idnat": "1"},
                 {"variant": "valid", "idnat": JEAN, "client_id": "inconnu"}, [1, 2]):
        answer = requests.post(admin_bouchon.url + "/_admin/mint", json=body, headers=auth, timeout=TIMEOUT)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert requests.get(admin_bouchon.url + "/_admin/calls?since=abc", headers=auth,
                        timeout=TIMEOUT).status_code == 400
    with pytest.raises(RemoteBouchonError, match="IDNAT inconnu"):
        RemoteBouchon(admin_bouchon.url, SECRET).mint("valid", "1")
    with pytest.raises(RemoteBouchonError, match="refusé"):
        RemoteBouchon(admin_bouchon.url, "mauvais-secret-0123456789").mint("valid", JEAN)


def test_operator_client_secret_only_with_the_admin_secret(admin_bouchon):
    url = admin_bouchon.url + "/_admin/operator-client"
    refused = requests.get(url, headers={"Authorization": "Bearer faux"}, timeout=TIMEOUT)
    assert refused.status_code == 401 and admin_bouchon.operator_client.client_secret not in refused.text
    answer = requests.get(url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    op = admin_bouchon.operator_client
    assert answer.json() == {"client_id": op.client_id, "client_secret": op.client_secret}
