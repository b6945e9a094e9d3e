"""Fixtures of the probe tests: TLS material, a fake Dovecot IMAP, fault servers, aiosmtpd."""

from __future__ import annotations

import base64
import json
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from mail_peers import (
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
from mssante_conformance.mail.sasl import parse_xoauth2


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


class XOAuth2Handler:
    """aiosmtpd handler: XOAUTH2 with the 334-challenge failure convention; keeps mail."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def auth_XOAUTH2(self, server, args):
        initial = args[1] if len(args) > 1 else None
        if initial is None:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            initial = base64.b64encode(answer).decode()
        creds = parse_xoauth2(initial)
        if creds and creds.user == BAL and creds.token == VALID_TOKEN:
            return AuthResult(success=True, auth_data=creds.user)
        answer = await server.challenge_auth(json.dumps(ERROR_JSON))
        if not isinstance(answer, bytes):  # '*' or bad base64: aiosmtpd already answered 501
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(tls_material):
    """aiosmtpd submission with STARTTLS required and XOAUTH2; yields the controller."""
    handler = XOAuth2Handler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
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
