"""The allowlist rule that keeps the console from scanning arbitrary hosts (pure)."""

import pytest

from mssante_conformance.console.targets import (normalize_entry, refused_hosts, target_allowed,
                                                 target_key)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", "LOCALHOST."])
def test_loopback_allowed_when_not_exposed(host):
    assert target_allowed(host, [], exposed=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_refused_when_exposed(host):
    assert not target_allowed(host, [], exposed=True)


@pytest.mark.parametrize("exposed", [False, True])
def test_unlisted_host_refused(exposed):
    assert not target_allowed("imap.example.org", [], exposed=exposed)
    assert not target_allowed("10.0.0.5", ["imap.example.org"], exposed=exposed)


@pytest.mark.parametrize("exposed", [False, True])
def test_listed_host_allowed(exposed):
    allow = ["imap.operateur.fr", "*.mssante.test", "192.0.2.0/24"]
    assert target_allowed("IMAP.Operateur.FR.", allow, exposed=exposed)
    assert target_allowed("mx.op.mssante.test", allow, exposed=exposed)
    assert target_allowed("192.0.2.44", allow, exposed=exposed)


def test_wildcard_needs_a_subdomain_and_exact_suffix():
    allow = ["*.operateur.fr"]
    assert not target_allowed("operateur.fr", allow, exposed=True)
    assert not target_allowed("eviloperateur.fr", allow, exposed=True)
    assert not target_allowed("operateur.fr.evil.org", allow, exposed=True)


def test_idna_names_compare_equal():
    assert target_allowed("imap.hôpital.fr", ["imap.xn--hpital-ixa.fr"], exposed=True)


def test_listed_loopback_allowed_even_when_exposed():
    assert target_allowed("127.0.0.2", ["127.0.0.2"], exposed=True)
    assert not target_allowed("127.0.0.3", ["127.0.0.2"], exposed=True)


def test_bad_entries_allow_nothing():
    assert not target_allowed("anything", ["*", "a b", "300.1.1.1/99"], exposed=True)
    with pytest.raises(ValueError):
        normalize_entry("host:993")


def test_refused_hosts_of_urls():
    urls = ["imaps://imap.operateur.fr:993", "smtp://10.1.2.3:587", "pas une url"]
    assert refused_hosts(urls, ["imap.operateur.fr"], exposed=False) == ["10.1.2.3", "pas une url"]
    assert refused_hosts(["imap://127.0.0.2:143"], [], exposed=False) == []
    assert refused_hosts(["imap://127.0.0.2:143"], [], exposed=True) == ["127.0.0.2"]


def test_target_key_groups_runs_by_host():
    assert target_key([]) == "reference"
    assert target_key(["imaps://A.test:993", "smtp://a.test:587"]) == "a.test"
