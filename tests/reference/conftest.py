"""Fixtures for tests that need the bouchon and the reference operator (the lead may hoist them).

* ``bouchon``: session-scoped embedded bouchon (real HTTP on 127.0.0.1).
* ``test_pki``: one test IGC Santé PKI for the session (shared by every reference instance and
  by the MX sink, so the sink can verify the operator's client certificate).
* ``mx_sink``: a TLS MX on 127.0.0.1 presenting the harness sink certificate, asking for a
  client certificate and recording what it received (stands for the harness's sink).
* ``reference``: the conformant reference operator, started once per session.
* ``reference_profile``: ``with reference_profile("tls_legacy") as op: …`` starts one instance
  of a profile and checks on exit that none of its processes is left.
"""

from __future__ import annotations

import contextlib
import ssl
import threading

import pytest

from mssante_conformance.pki import TestPKI
from mssante_conformance.reference import ReferenceOperator
from mssante_conformance.reference.processes import free_port, pid_alive


@pytest.fixture(scope="session")
def bouchon(tmp_path_factory):
    from mssante_conformance.psc import Bouchon

    with Bouchon.start(tmp_path_factory.mktemp("bouchon"), host="127.0.0.1", port=0) as running:
        yield running


@pytest.fixture(scope="session")
def mint(bouchon):
    """``mint("EXPIRED", idnat=…) -> str``: a token of that variant from the bouchon."""
    from mssante_conformance.psc.variants import TokenVariant

    def _mint(variant: str = "VALID", idnat: str = "899700366240") -> str:
        return bouchon.mint(TokenVariant[variant], idnat=idnat).token

    return _mint


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    return TestPKI.ensure(tmp_path_factory.mktemp("pki"))


class MxSink:
    """Minimal STARTTLS MX (aiosmtpd) that records messages and the TLS facts of each session."""

    def __init__(self, pki: TestPKI):
        from aiosmtpd.controller import Controller

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca_file))
        context.load_cert_chain(str(pki.harness_sink.cert), str(pki.harness_sink.key))
        context.verify_mode = ssl.CERT_OPTIONAL
        self.received: list[dict] = []
        self._lock = threading.Lock()
        port = free_port("127.0.0.1")  # aiosmtpd's readiness probe cannot use port 0
        self.address = ("127.0.0.1", port)
        self.controller = Controller(self, hostname="127.0.0.1", port=port, tls_context=context,
                                     require_starttls=True, ready_timeout=10)

    async def handle_DATA(self, server, session, envelope):
        tls = session.ssl or {}
        ssl_object = tls.get("ssl_object") if isinstance(tls, dict) else None
        peer = ssl_object.getpeercert() if ssl_object else None
        with self._lock:
            self.received.append({
                "rcpt": list(envelope.rcpt_tos), "mail_from": envelope.mail_from,
                "data": envelope.original_content or envelope.content,
                "tls_version": ssl_object.version() if ssl_object else None,
                "peer_subject": dict(x[0] for x in peer["subject"]) if peer else None,
                "peer_ip": session.peer[0],
            })
        return "250 2.0.0 recu par le puits du harnais"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


@pytest.fixture(scope="session")
def mx_sink(test_pki):
    sink = MxSink(test_pki).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def reference(bouchon, test_pki, mx_sink, tmp_path_factory):
    op = ReferenceOperator(tmp_path_factory.mktemp("reference"), bouchon, sink=mx_sink.address,
                           pki=test_pki)
    with op:
        yield op
    assert not [p for p in op.pids if pid_alive(p)]


@pytest.fixture(scope="session")
def reference_profile(bouchon, test_pki, mx_sink, tmp_path_factory):
    @contextlib.contextmanager
    def start(profile: str):
        op = ReferenceOperator(tmp_path_factory.mktemp(f"reference-{profile}"), bouchon,
                               profile=profile, sink=mx_sink.address, pki=test_pki)
        try:
            with op:
                yield op
        finally:
            left = [p for p in op.pids if pid_alive(p)]
            assert not left, f"processes left behind by {profile}: {left}"

    return start
