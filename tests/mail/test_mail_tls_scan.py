"""scan_endpoints (sslyze) against local TLS servers: it tells a TLS 1.2+ server from a weak one."""

import pytest

from mail_peers import ScriptedServer, closed_port, imap_session, server_context
from mssante_conformance.mail.tls import scan_endpoints


@pytest.fixture
def tls_servers(tls_material):
    servers = {
        "modern": ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material)),
        "legacy": ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material, legacy=True)),
        "starttls": ScriptedServer(imap_session(server_context(tls_material))),
    }
    yield servers
    for server in servers.values():
        server.close()


def test_scan_tells_modern_from_legacy_concurrently(tls_servers, tls_material):
    urls = [
        f"imaps://127.0.0.1:{tls_servers['modern'].port}",
        f"imaps://127.0.0.1:{tls_servers['legacy'].port}",
        f"imap://127.0.0.1:{tls_servers['starttls'].port}",
        f"imaps://127.0.0.1:{closed_port()}",
    ]
    modern, legacy, starttls, down = scan_endpoints(urls, ca_file=tls_material.ca_file, timeout=3)

    assert modern.versions == {"ssl3": False, "tls1_0": False, "tls1_1": False, "tls1_2": True, "tls1_3": True}
    assert not modern.weak_suites
    assert modern.chain_valid is True and modern.hostname_matched is True
    assert modern.certificate.subject.startswith("CN=localhost")

    assert legacy.accepts("tls1_0") is True and legacy.accepts("tls1_1") is True
    assert legacy.accepts("tls1_2") is True and legacy.accepts("ssl3") is False
    assert legacy.weak_suites and all(reasons for reasons in legacy.weak_suites.values())

    assert starttls.versions["tls1_2"] is True and starttls.versions["tls1_0"] is False  # through IMAP STARTTLS

    assert down.error and "\n" not in down.error and not down.versions
    assert modern.to_dict()["endpoint"] == urls[0]


def test_scan_with_a_foreign_ca_reports_an_invalid_chain(tls_servers, tls_material):
    (result,) = scan_endpoints(
        [f"imaps://127.0.0.1:{tls_servers['modern'].port}"], ca_file=tls_material.foreign_ca_file, versions=("tls1_2",)
    )
    assert result.chain_valid is False and result.chain_error
    assert result.hostname_matched is True and result.versions == {"tls1_2": True}
