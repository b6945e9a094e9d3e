"""The MX sink over real loopback sockets: durable delivery, TLS facts, hostile clients."""

from __future__ import annotations

import json

from mssante_conformance.mail.mta import MtaOutcome, send_as_mta

from sink_clients import SINK_DOMAIN

BAL = f"secretariat@{SINK_DOMAIN}"
MESSAGE = b"From: robot@operateur.test\r\nTo: " + BAL.encode() + b"\r\nSubject: essai OPI-OUT {marker}\r\n\r\nbonjour\r\n.ligne pointee\r\n"


def deliver(sink, pair=None, marker="x", **options):
    kwargs = dict(client_cert=pair.cert, client_key=pair.key) if pair else {}
    return send_as_mta(
        *sink.address,
        helo="mta.operateur.test",
        mail_from="robot@operateur.test",
        rcpt_to=BAL,
        message=MESSAGE.replace(b"{marker}", marker.encode()),
        timeout=5,
        **kwargs,
        **options,
    )


def ready_for_data(raw, pki):
    raw.cmd(b"EHLO mta.operateur.test")
    raw.starttls(pki.harness_mta.cert, pki.harness_mta.key)
    assert raw.cmd(b"EHLO mta.operateur.test")[0] == 250
    assert raw.cmd(b"MAIL FROM:<robot@operateur.test>")[0] == 250
    assert raw.cmd(f"RCPT TO:<{BAL}>".encode())[0] == 250


def test_accepted_message_is_on_disk_with_tls_facts_of_an_igc_sante_client(sink, pki):
    result = deliver(sink, pki.harness_mta, marker="m1")
    assert result.outcome is MtaOutcome.DELIVERED, result.detail
    assert result.reply.code == 250

    [message] = sink.messages()
    assert message.path.parent == sink.maildir / "new"
    assert message.path.read_bytes() == message.data
    assert message.data == MESSAGE.replace(b"{marker}", b"m1")  # intact, dot-unstuffed
    assert message.subject == "essai OPI-OUT m1"
    assert message.envelope_from == "robot@operateur.test" and message.rcpt_tos == (BAL,)
    assert message.tls.version in ("TLSv1.2", "TLSv1.3") and message.tls.cipher
    cert = message.tls.client_certificate
    assert "CN=mta.harnais.mssante.test" in cert.subject
    assert "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS" in cert.issuer
    assert cert.chains_to_ca and cert.valid_now and cert.trusted and cert.chain_error is None
    assert "1.2.250.1.213.1.7.2.1.1.1.1" in cert.policy_oids
    # the sidecar on disk says the same (durable, not only in memory)
    sidecar = json.loads((sink.maildir / "meta" / (message.path.name + ".json")).read_text())
    assert sidecar["tls"]["client_certificate"]["chains_to_ca"] is True
    assert list((sink.maildir / "tmp").iterdir()) == []


def test_foreign_ca_expired_and_absent_client_certificates_are_recorded(sink, pki):
    assert sink.accepts_any_client_certificate
    for pair, marker in ((pki.foreign_client, "foreign"), (pki.expired_client, "expired"), (None, "none")):
        assert deliver(sink, pair, marker=marker).delivered

    by_marker = {m.subject.rsplit(" ", 1)[1]: m.tls.client_certificate for m in sink.messages()}
    assert by_marker["foreign"].chains_to_ca is False
    assert "AC ETRANGERE" in by_marker["foreign"].chain_error
    assert by_marker["expired"].chains_to_ca is True and by_marker["expired"].valid_now is False
    assert not by_marker["expired"].trusted
    assert by_marker["none"] is None


def test_trusted_client_certificate_required_refuses_a_foreign_one(make_sink, pki):
    sink = make_sink(require_trusted_client_cert=True)
    refused = deliver(sink, pki.foreign_client)
    assert refused.outcome is MtaOutcome.REFUSED and refused.reply.code == 554
    assert deliver(sink, pki.harness_mta).delivered
    assert len(sink.messages()) == 1
    first = sink.connections()[0]
    assert first.tls.client_certificate is not None and not first.tls.client_certificate.chains_to_ca


def test_client_dropping_mid_data_leaves_no_delivered_message(sink, pki, raw_smtp):
    raw = raw_smtp(sink.address)
    ready_for_data(raw, pki)
    assert raw.cmd(b"DATA")[0] == 354
    raw.send(b"Subject: interrompu\r\n\r\n" + b"ligne\r\n" * 200)
    raw.close()
    closed = sink.wait_for_connection(lambda c: c.closed_at is not None, timeout=5)
    assert closed is not None and closed.delivered == 0 and "DATA" not in closed.commands  # never got to the hook
    assert sink.messages() == []
    assert list((sink.maildir / "new").iterdir()) == [] and list((sink.maildir / "tmp").iterdir()) == []
    # and the sink serves the next client
    assert deliver(sink, pki.harness_mta).delivered


def test_oversized_message_is_refused_with_552_and_the_sink_goes_on(make_sink, pki, raw_smtp):
    sink = make_sink(data_size_limit=2000)
    raw = raw_smtp(sink.address)
    ready_for_data(raw, pki)
    assert raw.cmd(b"DATA")[0] == 354
    raw.send(b"Subject: trop gros\r\n\r\n" + b"x" * 70 + b"\r\n" * 1 + (b"y" * 70 + b"\r\n") * 100)
    code, text = raw.cmd(b".")
    assert code == 552, text
    assert sink.messages() == []
    assert deliver(sink, pki.harness_mta).delivered


def test_malformed_input_gets_smtp_errors_and_the_session_survives(sink, pki, raw_smtp):
    raw = raw_smtp(sink.address)
    assert raw.greeting[0] == 220
    assert raw.cmd(b"BONJOUR")[0] == 530  # before STARTTLS everything but EHLO/NOOP/QUIT/STARTTLS
    assert raw.cmd(b"EHLO " + b"a" * 5000)[0] == 500  # overlong command line
    assert raw.cmd(b"\xff\xfe\x00\x01\x80garbage")[0] == 500  # binary garbage
    assert raw.cmd(b"MAIL FROM:<x@operateur.test>")[0] == 530  # before STARTTLS
    assert raw.cmd(b"EHLO mta.operateur.test")[0] == 250  # still talking
    raw.starttls(pki.harness_mta.cert, pki.harness_mta.key)
    assert raw.cmd(b"EHLO mta.operateur.test")[0] == 250
    assert raw.cmd(b"STARTTLS")[0] == 503  # no second STARTTLS inside TLS
    assert raw.cmd(b"BONJOUR")[0] == 500  # unknown command
    assert raw.cmd(b"\x00\x01\x02\x03 \xc3\x28")[0] == 500  # binary garbage inside TLS
    assert raw.cmd(b"MAIL FROM:<robot@operateur.test>")[0] == 250
    assert raw.cmd(b"RCPT TO:<quelqu.un@ailleurs.test>")[0] == 554  # no relaying
    assert raw.cmd(f"RCPT TO:<{BAL}>".encode())[0] == 250
    assert raw.cmd(b"DATA")[0] == 354
    raw.send(b"Subject: ligne longue\r\n\r\n" + b"z" * 3000 + b"\r\n")
    assert raw.cmd(b".")[0] == 500  # line over 1000 octets
    assert raw.cmd(b"NOOP")[0] == 250
    assert sink.messages() == []
    assert deliver(sink, pki.harness_mta).delivered  # next client served


def test_recipient_bounds_and_configured_mailboxes(make_sink, pki, raw_smtp):
    sink = make_sink(mailboxes=[BAL], max_recipients=2)
    raw = raw_smtp(sink.address)
    raw.cmd(b"EHLO mta.operateur.test")
    raw.starttls(pki.harness_mta.cert, pki.harness_mta.key)
    raw.cmd(b"EHLO mta.operateur.test")
    assert raw.cmd(b"MAIL FROM:<robot@operateur.test>")[0] == 250
    assert raw.cmd(f"RCPT TO:<inconnu@{SINK_DOMAIN}>".encode())[0] == 550
    assert raw.cmd(f"RCPT TO:<{BAL.upper()}>".encode())[0] == 250
    assert raw.cmd(f"RCPT TO:<{BAL}>".encode())[0] == 250
    assert raw.cmd(f"RCPT TO:<{BAL}>".encode())[0] == 452


def test_connections_are_recorded_even_without_mail_and_wait_for_is_bounded(sink, pki, raw_smtp):
    raw = raw_smtp(sink.address)
    raw.cmd(b"EHLO sonde.operateur.test")
    raw.starttls()
    assert raw.cmd(b"QUIT")[0] == 221
    raw.close()
    conn = sink.wait_for_connection(lambda c: c.closed_at is not None, timeout=5)
    assert conn.helo == "sonde.operateur.test" and conn.starttls and conn.tls.client_certificate is None
    assert conn.delivered == 0
    assert sink.wait_for(lambda m: True, timeout=0.2) is None
    deliver(sink, pki.harness_mta, marker="attendu")
    found = sink.wait_for(lambda m: "attendu" in m.subject, timeout=5)
    assert found is not None and found.connection_id == sink.connections()[-1].id


def test_failed_handshake_is_recorded_on_the_connection(sink, pki):
    result = deliver(sink, pki.harness_mta, tls_version="TLSv1")
    assert result.outcome is MtaOutcome.TLS_FAILED
    conn = sink.wait_for_connection(lambda c: c.closed_at is not None, timeout=5)
    assert conn.starttls and conn.tls is None and conn.tls_error


def test_stop_returns_with_clients_still_connected(make_sink, pki, raw_smtp):
    sink = make_sink()
    idle = raw_smtp(sink.address)
    in_tls = raw_smtp(sink.address)
    in_tls.cmd(b"EHLO mta.operateur.test")
    in_tls.starttls(pki.harness_mta.cert, pki.harness_mta.key)
    in_tls.cmd(b"EHLO mta.operateur.test")
    sink.stop()
    for client in (idle, in_tls):
        try:
            assert client.sock.recv(1024) == b""  # the sink closed the session
        except (ConnectionError, OSError):
            pass
    sink.stop()  # idempotent
