"""Bounded time whatever the server does: the check's deadline, the circuit breaker, servers
that keep asking (endless continuations, endless 334), an MX that drips its replies.

Real sockets on loopback (scripted servers of ``mail_peers``); the deadline and breaker logic
is also tested on its own. Durations are printed, never asserted: the assertions are on the
outcome and on where the exchange stopped.
"""

from __future__ import annotations

import time

import pytest

from mail_peers import BAL, VALID_TOKEN, server_context
from mssante_conformance.mail import deadline as check_deadline
from mssante_conformance.mail import breaker
from mssante_conformance.mail.classify import AuthOutcome
from mssante_conformance.mail.errors import (
    CheckDeadlineExceeded,
    ConnectionFailed,
    EndpointUnavailable,
    ProbeTimeout,
)
from mssante_conformance.mail.imap import ImapProbe
from mssante_conformance.mail.mta import MtaOutcome, MtaStep, send_as_mta
from mssante_conformance.mail.smtp import SmtpProbe

GREETING = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready"


# ------------------------------------------------------------------------------ pure logic
def test_budget_is_the_step_timeout_cut_to_what_is_left_of_the_check():
    assert check_deadline.budget(10) == 10  # no check running: the step's own timeout
    with check_deadline.scope(check_deadline.Deadline(3, "LPS-IMAP-06")):
        assert 2.5 < check_deadline.budget(10) <= 3
        assert check_deadline.budget(1) == 1
    spent = check_deadline.Deadline(0.01, "LPS-IMAP-06")
    time.sleep(0.02)
    with check_deadline.scope(spent), pytest.raises(CheckDeadlineExceeded) as exc:
        check_deadline.budget(10, "127.0.0.1:143", "greeting")
    assert "LPS-IMAP-06" in str(exc.value) and "--check-timeout" in str(exc.value)
    assert "127.0.0.1:143" in str(exc.value) and exc.value.step == "greeting"
    assert check_deadline.current() is None  # the scope is gone


def test_breaker_keeps_the_first_failure_and_is_per_run():
    run_a, run_b = breaker.CircuitBreaker(), breaker.CircuitBreaker()
    with breaker.scope(run_a, "LPS-IMAP-01"):
        breaker.guard("127.0.0.1", 143)  # nothing known yet
        breaker.trip("127.0.0.1", 143, "imap://127.0.0.1:143", "connexion refusée par 127.0.0.1:143")
    with breaker.scope(run_a, "LPS-IMAP-02"):
        breaker.trip("127.0.0.1", 143, "imap://127.0.0.1:143", "autre raison")
        with pytest.raises(EndpointUnavailable) as exc:
            breaker.guard("127.0.0.1", 143)
        breaker.guard("127.0.0.1", 993)  # another endpoint of the same host is not concerned
    assert str(exc.value) == ("point d'accès imap://127.0.0.1:143 injoignable depuis le contrôle "
                              "LPS-IMAP-01 : connexion refusée par 127.0.0.1:143")
    with breaker.scope(run_b, "LPS-IMAP-01"):
        breaker.guard("127.0.0.1", 143)  # another run knows nothing of it
    breaker.trip("127.0.0.1", 143, "x", "outside any run")  # no-op
    assert len(run_a.trips) == 1 and run_b.trips == []


# ------------------------------------------------------------------------------ the deadline
def test_a_server_that_answers_just_in_time_is_cut_by_the_check_deadline(serve):
    def chatty(server, peer):
        peer.say(GREETING)
        peer.hear()
        while True:  # an untagged line every 0.2 s, never the tagged completion
            peer.say("* OK encore un instant")
            time.sleep(0.2)

    srv = serve(chatty)
    started = time.monotonic()
    with check_deadline.scope(check_deadline.Deadline(1.5, "LPS-IMAP-03")):
        with ImapProbe(f"imap://127.0.0.1:{srv.port}", timeout=10) as probe:
            probe.connect()
            with pytest.raises(CheckDeadlineExceeded) as exc:
                probe.capabilities()
            with pytest.raises(CheckDeadlineExceeded):  # and every later step of the check
                probe.noop()
    print(f"\ncut after {time.monotonic() - started:.2f} s (per-read timeout 10 s, check budget 1.5 s)")
    assert "LPS-IMAP-03" in str(exc.value) and exc.value.step == "command"
    assert len(srv.received) == 1  # CAPABILITY only: NOOP never left


def test_check_deadline_during_authentication_is_not_an_answer(serve):
    def slow(server, peer):
        peer.say(GREETING)
        peer.hear()
        while True:
            peer.say("* OK patience")
            time.sleep(0.2)

    srv = serve(slow)
    with check_deadline.scope(check_deadline.Deadline(1.0, "LPS-IMAP-06")):
        with ImapProbe(f"imap://127.0.0.1:{srv.port}", timeout=10) as probe:
            probe.connect()
            with pytest.raises(CheckDeadlineExceeded):  # never NO_RESPONSE: the server said things
                probe.authenticate_xoauth2(BAL, VALID_TOKEN)


# ------------------------------------------------------------------------------ endless asking
def _endless_continuation(server, peer):
    peer.say(GREETING)
    while peer.hear() is not None:
        peer.say("+ ")


def test_imap_endless_continuations_end_as_a_protocol_violation(serve):
    srv = serve(_endless_continuation)
    with ImapProbe(f"imap://127.0.0.1:{srv.port}", timeout=5) as probe:
        probe.connect()
        started = time.monotonic()
        attempt = probe.authenticate_xoauth2(BAL, VALID_TOKEN, initial_response=False)
        print(f"\nexchange ended after {time.monotonic() - started:.2f} s, {len(srv.received)} client lines")
        assert attempt.outcome is AuthOutcome.PROTOCOL_VIOLATION
        assert attempt.text == "pas de réponse étiquetée"
        assert "annulation" in " ".join(probe.transcript.lines())
        # payload, the empty answer to the challenge, then "*" after MAX_CONTINUATIONS; no more
        assert srv.received[-1].endswith("*") and len(srv.received) <= 6
        assert probe.logout() is None  # the session was closed: nothing more is sent
    assert VALID_TOKEN not in " ".join(attempt.lines)


def test_imap_continuation_after_cancel_ends_the_exchange(serve):
    srv = serve(_endless_continuation)
    with ImapProbe(f"imap://127.0.0.1:{srv.port}", timeout=5) as probe:
        probe.connect()
        attempt = probe.authenticate_xoauth2(BAL, VALID_TOKEN, answer_challenge=False)
    assert attempt.outcome is AuthOutcome.PROTOCOL_VIOLATION
    assert srv.received[-1] == "*" and len(srv.received) == 2  # the payload, then our cancel


def test_smtp_endless_334_ends_as_a_protocol_violation(serve):
    def endless_334(server, peer):
        peer.say("220 hostile ESMTP")
        while (line := peer.hear()) is not None:
            if line.upper().startswith("EHLO"):
                peer.say("250-hostile", "250 AUTH XOAUTH2")
            else:
                peer.say("334 ")

    srv = serve(endless_334)
    with SmtpProbe(f"smtp://127.0.0.1:{srv.port}", timeout=5) as probe:
        probe.connect()
        probe.ehlo()
        attempt = probe.authenticate_xoauth2(BAL, VALID_TOKEN)
        assert attempt.outcome is AuthOutcome.PROTOCOL_VIOLATION and attempt.status == "334"
        assert probe.quit() is None  # closed after the abandoned exchange
    assert len(srv.received) <= 2 + 3  # EHLO, AUTH, at most MAX_CHALLENGES answers


# ------------------------------------------------------------------------------ the breaker
def test_breaker_trips_on_a_mute_server_and_spares_the_next_checks(serve, hang_server):
    run = breaker.CircuitBreaker()
    url = f"imap://127.0.0.1:{hang_server.port}"
    with breaker.scope(run, "LPS-IMAP-01"), ImapProbe(url, timeout=0.5) as probe:
        with pytest.raises(ProbeTimeout):
            probe.connect()
    with breaker.scope(run, "LPS-IMAP-02"), ImapProbe(url, timeout=0.5) as probe:
        started = time.monotonic()
        with pytest.raises(EndpointUnavailable) as exc:
            probe.connect()
        print(f"\nsecond check ended in {time.monotonic() - started:.3f} s")
    assert "injoignable depuis le contrôle LPS-IMAP-01" in str(exc.value)
    assert "rien répondu" in str(exc.value)


def test_breaker_does_not_trip_on_an_answer(serve, http_server):
    run = breaker.CircuitBreaker()
    url = f"imap://127.0.0.1:{http_server.port}"
    for check in ("LPS-IMAP-01", "LPS-IMAP-02"):
        with breaker.scope(run, check), ImapProbe(url, timeout=2) as probe:
            with pytest.raises(Exception) as exc:
                probe.connect()
            assert "n'est pas un serveur IMAP" in str(exc.value)  # judged each time, not given up
    assert run.trips == []


def test_breaker_trips_on_a_refused_connection():
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    run = breaker.CircuitBreaker()
    with breaker.scope(run, "LPS-SMTP-01"), SmtpProbe(f"smtp://127.0.0.1:{port}") as probe:
        with pytest.raises(ConnectionFailed):
            probe.connect()
    assert [t.check_id for t in run.trips] == ["LPS-SMTP-01"]
    with breaker.scope(run, "OPI-IN-01"):  # the harness MTA honours it too
        d = send_as_mta("127.0.0.1", port, helo="h", mail_from="a@b.test", rcpt_to="c@d.test", message=b"x")
    assert d.outcome is MtaOutcome.CONNECT_FAILED and "LPS-SMTP-01" in d.detail


# ------------------------------------------------------------------------------ harness MTA
def test_mta_against_an_mx_that_drips_its_greeting(serve):
    def drip(server, peer):
        for byte in b"220 mx.hostile.test ESMTP ready for a very long time\r\n":
            peer.conn.sendall(bytes([byte]))
            time.sleep(0.3)  # each read answers in time; the line never completes in time

    srv = serve(drip)
    started = time.monotonic()
    d = send_as_mta("127.0.0.1", srv.port, helo="h", mail_from="a@b.test", rcpt_to="c@d.test",
                    message=b"Subject: x\r\n\r\nx\r\n", starttls=False, timeout=1.5)
    print(f"\ndripping MX: {d.outcome.value} at {d.step.value} after {time.monotonic() - started:.2f} s")
    assert (d.outcome, d.step) == (MtaOutcome.TIMEOUT, MtaStep.GREETING), d.detail
    assert "pas de réponse complète" in d.detail


def _drip(peer, line: bytes, every: float = 1.0) -> None:
    """Send ``line`` one byte every ``every`` seconds, until it is done or the client left."""
    for byte in line:
        if peer.server._stop.is_set():
            return
        peer.conn.sendall(bytes([byte]))
        time.sleep(every)


def _up_to_starttls(peer) -> None:
    peer.say("220 mx.hostile.test ESMTP")
    peer.hear()  # EHLO
    peer.say("250-mx.hostile.test", "250 STARTTLS")
    peer.hear()  # STARTTLS
    peer.say("220 2.0.0 go ahead")


# One byte a second, each read answered in time: without a bound on the whole line (or the
# whole handshake) these MXs would hold the inbound checks for as long as their line lasts.
@pytest.mark.parametrize("where, step", [
    ("handshake", MtaStep.TLS_HANDSHAKE),  # a TLS record header, then its body, dripped
    ("inside_tls", MtaStep.EHLO_AFTER_TLS),  # the EHLO reply on the established TLS session
])
def test_mta_against_an_mx_that_drips_one_byte_a_second_in_tls(serve, tls_material, where, step):
    context = server_context(tls_material)

    def drip(server, peer):
        _up_to_starttls(peer)
        if where == "handshake":
            _drip(peer, b"\x16\x03\x03\x00\x40" + bytes(64))
        else:
            peer.starttls(context)
            peer.hear()  # EHLO after TLS
            _drip(peer, b"250 mx.hostile.test one byte a second, for a minute\r\n")

    srv = serve(drip)
    started = time.monotonic()
    d = send_as_mta("127.0.0.1", srv.port, helo="h", mail_from="a@b.test", rcpt_to="c@d.test",
                    message=b"Subject: x\r\n\r\nx\r\n", timeout=2)
    elapsed = time.monotonic() - started
    print(f"\nMX dripping ({where}): {d.outcome.value} at {d.step.value} after {elapsed:.2f} s")
    assert (d.outcome, d.step) == (MtaOutcome.TIMEOUT, step), d.detail
    assert elapsed < 30  # far below the minute the dripped line lasts: the bound held


def test_mta_against_an_mx_that_drips_one_byte_a_second_past_the_check_deadline(serve):
    def drip(server, peer):
        peer.say("220-mx.hostile.test")
        while not server._stop.is_set():  # complete lines, each in time: only the deadline ends it
            _drip(peer, b"220-encore\r\n", every=0.1)

    srv = serve(drip)
    with check_deadline.scope(check_deadline.Deadline(2, "OPI-IN-01")):
        d = send_as_mta("127.0.0.1", srv.port, helo="h", mail_from="a@b.test", rcpt_to="c@d.test",
                        message=b"x", starttls=False, timeout=5)
    assert (d.outcome, d.step) == (MtaOutcome.TIMEOUT, MtaStep.GREETING), d.detail
    assert "OPI-IN-01" in d.detail


def test_mta_within_the_check_deadline(serve):
    def slow_replies(server, peer):
        peer.say("220 mx.hostile.test ESMTP")
        while peer.hear() is not None:
            for _ in range(100):  # a multi-line reply, one line per 0.2 s
                peer.say("250-encore")
                time.sleep(0.2)

    srv = serve(slow_replies)
    with check_deadline.scope(check_deadline.Deadline(1.5, "OPI-IN-02")):
        d = send_as_mta("127.0.0.1", srv.port, helo="h", mail_from="a@b.test", rcpt_to="c@d.test",
                        message=b"x", starttls=False, timeout=10)
    assert d.outcome is MtaOutcome.TIMEOUT and d.step is MtaStep.EHLO
    assert "OPI-IN-02" in d.detail and "--check-timeout" in d.detail


def test_a_foreign_greeting_is_noted_for_the_scan_but_never_trips(http_server):
    from mssante_conformance.mail.tls_scan import scan_endpoints

    run = breaker.CircuitBreaker()
    url = f"imap://127.0.0.1:{http_server.port}"
    with breaker.scope(run, "LPS-IMAP-01"), ImapProbe(url, timeout=2) as probe:
        with pytest.raises(Exception):
            probe.connect()
    assert run.trips == [] and run.foreign("127.0.0.1", http_server.port) is not None
    with breaker.scope(run, "LPS-TLS-01"):
        [result] = scan_endpoints([url], timeout=2)
    assert "STARTTLS impossible (constaté au contrôle LPS-IMAP-01)" in result.error
    assert "n'est pas un serveur IMAP" in result.error


def test_an_sslyze_scan_is_abandoned_at_its_bound(hang_server):
    """sslyze's own timeouts apply per socket operation (here 30 s against a mute server): the
    scan as a whole is abandoned at ``max_duration``, with a reason."""
    from mssante_conformance.mail.tls_scan import scan_endpoints

    started = time.monotonic()
    [result] = scan_endpoints([f"imap://127.0.0.1:{hang_server.port}"], timeout=30, max_duration=2)
    print(f"\nscan ended after {time.monotonic() - started:.2f} s: {result.error}")
    assert result.error == f"analyse TLS de imap://127.0.0.1:{hang_server.port} interrompue : délai de 2 s écoulé"
    assert result.versions == {}


def test_an_sslyze_scan_is_cut_by_the_check_deadline(hang_server):
    from mssante_conformance.mail.tls_scan import scan_endpoints

    with check_deadline.scope(check_deadline.Deadline(1.5, "LPS-TLS-01")):
        [result] = scan_endpoints([f"imap://127.0.0.1:{hang_server.port}"], timeout=30)
    assert "délai global du contrôle LPS-TLS-01" in result.error


def test_an_announced_huge_literal_is_refused_before_reading_it(serve):
    from mssante_conformance.mail.errors import ProtocolMismatch

    def huge(server, peer):
        peer.say(GREETING)
        peer.hear()
        peer.say("* 1 FETCH (BODY[] {999999999999}")
        server._stop.wait(5)

    srv = serve(huge)
    with ImapProbe(f"imap://127.0.0.1:{srv.port}", timeout=5) as probe:
        probe.connect()
        with pytest.raises(ProtocolMismatch, match="littéral de 999999999999 octets"):
            probe.fetch_message(1)


def test_streamed_replies_are_stopped_not_stored(serve):
    from mssante_conformance.mail.errors import ProtocolMismatch

    def imap_stream(server, peer):
        peer.say(GREETING)
        peer.hear()
        for _ in range(20_000):
            peer.say("* OK encore")

    def smtp_stream(server, peer):
        peer.say("220 hostile ESMTP")
        peer.hear()
        for _ in range(5_000):
            peer.say("250-encore")

    with ImapProbe(f"imap://127.0.0.1:{serve(imap_stream).port}", timeout=5) as probe:
        probe.connect()
        with pytest.raises(ProtocolMismatch, match="plus de 10000 réponses non étiquetées"):
            probe.noop()
    with SmtpProbe(f"smtp://127.0.0.1:{serve(smtp_stream).port}", timeout=5) as probe:
        probe.connect()
        with pytest.raises(ProtocolMismatch, match="plus de 1000 lignes"):
            probe.ehlo()
