"""Fixtures of the probe tests: TLS material, a fake Dovecot IMAP, fault servers, aiosmtpd."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from mail_peers import (
    XOAuth2Handler,
    free_port,
    BAL,
    ERROR_JSON,
    VALID_TOKEN,
    ScriptedServer,
    banner_session,
    hang_session,
    imap_session,
    make_tls_material,
    server_context,
)


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory):
    return make_tls_material(tmp_path_factory.mktemp("mail-tls"))


@pytest.fixture
def serve():
    """``serve(session, tls=None) -> ScriptedServer``, all closed at teardown."""
    servers = []

    def start(session, tls=None):
        server = ScriptedServer(session, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def fake_imap(serve, tls_material):
    """Dovecot-like IMAP with STARTTLS: ``imap://127.0.0.1:<port>``."""
    return serve(imap_session(server_context(tls_material)))


@pytest.fixture
def fake_imaps(serve, tls_material):
    """Dovecot-like IMAP over implicit TLS."""
    return serve(imap_session(None, implicit=True), tls=server_context(tls_material))


@pytest.fixture
def hang_server(serve):
    return serve(hang_session)


@pytest.fixture
def http_server(serve):
    return serve(banner_session("HTTP/1.1 400 Bad Request"))


@pytest.fixture
def smtp_server(tls_material):
    """aiosmtpd submission with STARTTLS required and XOAUTH2; yields the controller."""
    handler = XOAuth2Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(tls_material),
        require_starttls=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
        ready_timeout=5,
    )
    controller.start()
    controller.handler_obj = handler
    yield controller
    controller.stop()


# The MTA client's tests deliver to the harness's own sink, under the test PKI.
@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    from mssante_conformance.pki import TestPKI

    return TestPKI.ensure(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_sink(pki, tmp_path):
    from mssante_conformance.mail.sink import MxSink
    from mssante_conformance.pki import HARNESS_DOMAIN

    sinks = []

    def make(**options):
        options.setdefault("maildir", tmp_path / f"maildir{len(sinks)}")
        sink = MxSink("127.0.0.1", 0, domain=HARNESS_DOMAIN, cert_file=pki.harness_sink.cert,
                      key_file=pki.harness_sink.key, ca_file=pki.ca_file, session_timeout=5,
                      **options).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def sink(make_sink):
    return make_sink()
