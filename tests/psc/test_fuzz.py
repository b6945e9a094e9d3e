"""A short, seeded pass of fuzz/fuzz_bouchon.py (the long one: 10,000 requests per endpoint),
and the two crashes it found, pinned as plain regression tests."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

FUZZ = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_bouchon.py"


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("fuzz_bouchon", FUZZ)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    app, material = module.build_app(tmp_path_factory.mktemp("fuzz") / "bouchon")
    return module, app, material


@pytest.mark.parametrize("endpoint", ["admin", "authorize", "discovery", "end_session", "introspection",
                                      "jwks", "revocation", "token", "userinfo"])
def test_generated_requests_never_get_a_500(fuzz, endpoint):
    module, app, material = fuzz
    result = module.fuzz_endpoint(app, material, endpoint, count=150, run_seed=20261206)
    assert result.requests == 150
    assert result.http_500 == 0, dict(result.errors)
    assert len(result.statuses) >= 2  # the generator reaches more than one outcome


def test_non_ascii_values_authlib_echoes_get_400_not_500(fuzz):
    _, app, _ = fuzz
    client = app.test_client()
    realm = "/auth/realms/esante-wallet/protocol/openid-connect"
    answer = client.get(realm + "/auth", query_string={"response_type": "code®", "client_id": "lps-test"})
    assert answer.status_code == 400
    answer = client.get("/auth", query_string={"response_type": "code®", "client_id": "lps-test"})
    assert answer.status_code == 400  # PSC's wallet alias of authorize
    answer = client.post(realm + "/token", data={"grant_type": "é"})
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("header", ["Basic ", "Bearer ", " x", "Basic"])
def test_truncated_authorization_headers_get_401_not_500(fuzz, header):
    _, app, _ = fuzz
    answer = app.test_client().post("/auth/realms/esante-wallet/protocol/openid-connect/token/introspect",
                                    data={"token": "x"}, headers={"Authorization": header})
    assert answer.status_code == 401 and answer.get_json()["error"] == "invalid_client"
