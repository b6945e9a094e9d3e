"""Fixtures of the sink/MTA/whitelist tests: one test PKI per session, a fresh sink per test."""

from __future__ import annotations

import pytest
from sink_clients import SINK_DOMAIN, RawSmtp

from mssante_conformance.mail.sink import MxSink
from mssante_conformance.pki import TestPKI



@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> TestPKI:
    return TestPKI.ensure(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_sink(pki, tmp_path):
    sinks: list[MxSink] = []

    def make(**options) -> MxSink:
        options.setdefault("maildir", tmp_path / f"maildir{len(sinks)}")
        sink = MxSink(
            "127.0.0.1",
            0,
            domain=SINK_DOMAIN,
            cert_file=pki.harness_sink.cert,
            key_file=pki.harness_sink.key,
            ca_file=pki.ca_file,
            session_timeout=5,
            **options,
        ).start()
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def sink(make_sink) -> MxSink:
    return make_sink()


@pytest.fixture
def raw_smtp():
    opened: list[RawSmtp] = []

    def connect(address, timeout: float = 5) -> RawSmtp:
        client = RawSmtp(address, timeout)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()
