"""Both bouchons implement BouchonPort in full, member by member (no network here).

The real remote bouchon, in its own process, is exercised in test_remote_process.py.
"""

from __future__ import annotations

import inspect

import pytest

from mssante_conformance.psc import Bouchon, BouchonPort, RemoteBouchon, RemoteBouchonError
from mssante_conformance.psc.port import PORT_METHODS, PORT_PROPERTIES
from mssante_conformance.target import TargetError, _default_other_idnat

IMPLEMENTATIONS = [Bouchon, RemoteBouchon]


def declared(cls) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if not name.startswith("_")}


def test_the_member_lists_are_the_protocol():
    assert set(declared(BouchonPort)) == set(PORT_PROPERTIES) | set(PORT_METHODS)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", PORT_PROPERTIES)
def test_property_with_the_same_type(cls, name):
    wanted = inspect.getattr_static(BouchonPort, name)
    got = inspect.getattr_static(cls, name, None)
    assert isinstance(got, property), f"{cls.__name__}.{name} is missing or not a property"
    assert got.fget.__annotations__["return"] == wanted.fget.__annotations__["return"]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", PORT_METHODS)
def test_method_with_the_same_signature(cls, name):
    wanted = inspect.signature(getattr(BouchonPort, name))
    got = inspect.getattr_static(cls, name, None)
    assert inspect.isfunction(got), f"{cls.__name__}.{name} is missing or not a method"
    got_sig = inspect.signature(got)
    assert [(p.name, p.default) for p in got_sig.parameters.values()] == \
        [(p.name, p.default) for p in wanted.parameters.values()]


def test_a_running_embedded_bouchon_is_a_port(tmp_path):
    with Bouchon.start(tmp_path) as bouchon:
        assert isinstance(bouchon, BouchonPort)
        assert bouchon.ca_file is None and bouchon.discovery_url.startswith(bouchon.issuer)


@pytest.mark.parametrize("url", ["", "ftp://x", "127.0.0.1:8765", "http://"])
def test_remote_bouchon_refuses_a_bad_url(url):
    with pytest.raises(RemoteBouchonError, match="URL du bouchon invalide"):
        RemoteBouchon(url, "s3cret-admin-de-test-0123456789")


def test_remote_bouchon_takes_the_issuer_as_url(tmp_path):
    remote = RemoteBouchon("https://127.0.0.1:1/auth/realms/esante-wallet/", "s3cret-admin-de-test-0123456789")
    assert remote.url == "https://127.0.0.1:1"
    with pytest.raises(RemoteBouchonError, match="introuvable"):
        RemoteBouchon("https://127.0.0.1:1", "s3cret-admin-de-test-0123456789", ca_file=tmp_path / "absent.pem")


def test_unreachable_remote_bouchon_is_a_clear_target_error_not_attribute_error():
    # port 9 (discard) is closed on loopback: every member fails with one French reason
    remote = RemoteBouchon("http://127.0.0.1:9", "s3cret-admin-de-test-0123456789", timeout_s=2)
    for name in ("issuer", "foreign_issuer", "identities", "jwks_uri", "operator_client"):
        with pytest.raises(RemoteBouchonError, match="injoignable"):
            getattr(remote, name)
    with pytest.raises(TargetError, match="identités de test du bouchon illisibles.*--other-idnat"):
        _default_other_idnat(remote, {"899700366240"})
