"""Issue 12: the sink is capped as a whole (connections, messages, bytes on disk) and indexes
what it stores instead of re-reading the maildir."""

from __future__ import annotations

import socket
import time

from mssante_conformance.mail.mta import MtaOutcome
from mssante_conformance.mail.sink_store import Maildir

from test_sink import deliver


def _greeting(address) -> bytes:
    with socket.create_connection(address, timeout=5) as s:
        return s.recv(200)


def test_connections_beyond_the_cap_get_421(make_sink, raw_smtp):
    sink = make_sink(max_connections=2)
    first, second = raw_smtp(sink.address), raw_smtp(sink.address)
    for client in (first, second):
        assert client.cmd(b"NOOP")[0] == 250  # both sessions are live
    assert _greeting(sink.address).startswith(b"421 ")
    assert sink.refused_connections == 1
    first.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(sink._live) >= 2:
        time.sleep(0.05)
    assert _greeting(sink.address).startswith(b"220 ")  # room again once one left


def test_message_count_cap_answers_452_and_stores_nothing_more(make_sink, pki):
    sink = make_sink(max_messages=2)
    for marker in ("a", "b"):
        assert deliver(sink, pki.harness_mta, marker=marker).outcome is MtaOutcome.DELIVERED
    third = deliver(sink, pki.harness_mta, marker="c")
    assert third.outcome is not MtaOutcome.DELIVERED and third.reply.code == 452
    assert [m.subject for m in sink.messages()] == ["essai OPI-OUT a", "essai OPI-OUT b"]
    assert len(list((sink.maildir / "new").iterdir())) == 2


def test_stored_bytes_cap_answers_452(make_sink, pki):
    sink = make_sink(max_stored_bytes=200)
    assert deliver(sink, pki.harness_mta, marker="a").outcome is MtaOutcome.DELIVERED
    refused = deliver(sink, pki.harness_mta, marker="b")  # ~120 more bytes would pass 200
    assert refused.reply.code == 452
    assert len(sink.messages()) == 1


def test_the_index_is_read_once_and_wait_for_never_rereads_the_maildir(make_sink, pki, monkeypatch):
    sink = make_sink()
    assert deliver(sink, pki.harness_mta, marker="a").outcome is MtaOutcome.DELIVERED
    reopened = Maildir(sink.maildir)  # a restart finds what was stored before
    assert [m.subject for m in reopened.messages()] == ["essai OPI-OUT a"]

    def no_disk(*_args, **_kwargs):
        raise AssertionError("wait_for re-read the maildir")

    monkeypatch.setattr(Maildir, "_scan", no_disk)
    judged = []

    def predicate(message):
        judged.append(message.subject)
        return message.subject.endswith(" c")

    for marker in ("b", "c"):
        assert deliver(sink, pki.harness_mta, marker=marker).outcome is MtaOutcome.DELIVERED
    assert sink.wait_for(predicate, timeout=5).subject == "essai OPI-OUT c"
    assert judged == ["essai OPI-OUT a", "essai OPI-OUT b", "essai OPI-OUT c"]  # each judged once
