"""SSO session: 15 minutes idle, 4 hours max, refresh tokens die with it (injected clock)."""

from __future__ import annotations

import pytest
import requests

from mssante_conformance.psc import Bouchon, ManualClock, TokenVariant

from .conftest import JEAN, REDIRECT_URI, TIMEOUT, login, pkce_pair

MINUTE = 60


@pytest.fixture(scope="module")
def clock():
    return ManualClock(1_700_000_000)


@pytest.fixture(scope="module")
def timed_bouchon(tmp_path_factory, clock):
    with Bouchon.start(tmp_path_factory.mktemp("timed"), clock=clock) as running:
        yield running


def tokens(bouchon):
    verifier, challenge = pkce_pair()
    url = requests.Request("GET", bouchon.authorization_endpoint, params={
        "response_type": "code", "client_id": "lps-test", "redirect_uri": REDIRECT_URI,
        "scope": "openid scope_all", "code_challenge": challenge,
        "code_challenge_method": "S256"}).prepare().url
    code = login(requests.Session(), url).headers["Location"].split("code=")[1].split("&")[0]
    return token_call(bouchon, {"grant_type": "authorization_code", "code": code,
                                "redirect_uri": REDIRECT_URI, "code_verifier": verifier}).json()


def token_call(bouchon, form):
    client = bouchon.lps_client
    return requests.post(bouchon.token_endpoint, data=form, timeout=TIMEOUT,
                         auth=(client.client_id, client.client_secret))


def refresh(bouchon, refresh_token):
    return token_call(bouchon, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def introspect(bouchon, token):
    op = bouchon.operator_client
    return requests.post(bouchon.introspection_endpoint, data={"token": token}, timeout=TIMEOUT,
                         auth=(op.client_id, op.client_secret)).json()


def test_idle_session_dies_after_15_minutes(timed_bouchon, clock):
    issued = tokens(timed_bouchon)
    clock.advance(14 * MINUTE)
    kept = refresh(timed_bouchon, issued["refresh_token"])
    assert kept.status_code == 200  # activity: the idle timer restarts
    clock.advance(14 * MINUTE)
    kept = refresh(timed_bouchon, kept.json()["refresh_token"])
    assert kept.status_code == 200
    clock.advance(15 * MINUTE + 1)
    dead = refresh(timed_bouchon, kept.json()["refresh_token"])
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


def test_session_dies_after_4_hours_even_when_active(timed_bouchon, clock):
    current = tokens(timed_bouchon)["refresh_token"]
    for _ in range(17):  # 17 × 14 min = 3 h 58
        clock.advance(14 * MINUTE)
        answer = refresh(timed_bouchon, current)
        assert answer.status_code == 200
        current = answer.json()["refresh_token"]
    clock.advance(3 * MINUTE)  # 4 h 01
    dead = refresh(timed_bouchon, current)
    assert dead.json()["error"] == "invalid_grant"


def test_access_token_expires_with_the_clock(timed_bouchon, clock):
    minted = timed_bouchon.mint(TokenVariant.VALID, idnat=JEAN)
    assert introspect(timed_bouchon, minted.token)["active"] is True
    clock.advance(121)
    assert introspect(timed_bouchon, minted.token) == {"active": False}
    assert timed_bouchon.calls(endpoint="introspection")[-1].answer["why"] == "expired"


def test_logout_kills_access_and_refresh_tokens(timed_bouchon):
    issued = tokens(timed_bouchon)
    assert introspect(timed_bouchon, issued["access_token"])["active"] is True
    client = timed_bouchon.lps_client
    out = requests.post(timed_bouchon.issuer + "/protocol/openid-connect/logout", timeout=TIMEOUT,
                        data={"refresh_token": issued["refresh_token"]},
                        auth=(client.client_id, client.client_secret))
    assert out.status_code == 204
    assert introspect(timed_bouchon, issued["access_token"]) == {"active": False}
    assert refresh(timed_bouchon, issued["refresh_token"]).json()["error"] == "invalid_grant"
