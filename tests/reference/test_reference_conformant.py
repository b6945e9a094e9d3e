"""The conformant reference operator, proven with plain imaplib/smtplib/ssl against real
Dovecot + Postfix and the real bouchon."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from reference_clients import (host_port, imap_connect, imap_external, imap_xoauth2, message,
                               mx_client, smtp_submission, smtp_xoauth2, tls10_context,
                               tls_handshake, wait_for_message)

pytestmark = pytest.mark.slow

JEAN, CLAIRE = "899700366240", "899700771191"
JEAN_BAL = "jean.dupont@operateur-reference.test"
CABINET_BAL = "cabinet.dupont@operateur-reference.test"
CLAIRE_BAL = "claire.martin@operateur-reference.test"



def test_valid_token_opens_the_holders_bals(reference, bouchon, mint):
    token = mint()
    assert imap_xoauth2(reference, JEAN_BAL, token) == ("OK", "")
    assert imap_xoauth2(reference, JEAN_BAL, token, implicit=True) == ("OK", "")
    assert imap_xoauth2(reference, CABINET_BAL, token) == ("OK", "")  # his second BAL
    with smtp_submission(reference) as client:
        assert smtp_xoauth2(client, JEAN_BAL, token)[0] == 235
    with smtp_submission(reference, implicit=True) as client:
        assert smtp_xoauth2(client, JEAN_BAL, token)[0] == 235


def test_operator_validated_the_token_at_the_bouchon(reference, bouchon, mint):
    from mssante_conformance.psc.variants import TokenVariant

    token = bouchon.mint(TokenVariant.VALID, idnat=JEAN)
    assert imap_xoauth2(reference, JEAN_BAL, token.token)[0] == "OK"
    calls = [c for c in bouchon.calls() if c.token_fingerprint == token.fingerprint]
    assert calls and calls[-1].client_id == bouchon.operator_client.client_id


@pytest.mark.parametrize("variant", ["EXPIRED", "NOT_YET_VALID", "FOREIGN_ISSUER", "FORGED_SIGNATURE",
                                     "UNSIGNED", "HS256_PUBLIC_KEY", "EMBEDDED_JWK",
                                     "TAMPERED_PAYLOAD", "REVOKED", "MISSING_SUBJECT_NAME_ID"])
def test_non_passing_tokens_are_refused_over_imap(reference, bouchon, mint, variant):
    typ, text = imap_xoauth2(reference, JEAN_BAL, mint(variant))
    assert typ == "NO" and "AUTHENTICATIONFAILED" in text


@pytest.mark.parametrize("variant", ["EXPIRED", "FOREIGN_ISSUER", "FORGED_SIGNATURE"])
def test_non_passing_tokens_are_refused_over_submission(reference, bouchon, mint, variant):
    with smtp_submission(reference) as client:
        code, _ = smtp_xoauth2(client, JEAN_BAL, mint(variant))
    assert code == 535


def test_another_professionals_valid_token_is_refused(reference, bouchon, mint):
    claire = mint(idnat=CLAIRE)
    assert imap_xoauth2(reference, CLAIRE_BAL, claire) == ("OK", "")  # valid for her own BAL…
    typ, text = imap_xoauth2(reference, JEAN_BAL, claire)  # …not for Jean's
    assert typ == "NO" and "AUTHENTICATIONFAILED" in text
    with smtp_submission(reference) as client:
        assert smtp_xoauth2(client, JEAN_BAL, claire)[0] == 535


def test_authentication_before_tls_is_refused(reference, bouchon, mint):
    token = mint()
    client = imap_connect(reference, starttls=False)
    try:
        assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
        tag = client._new_tag().decode()
        client.send(f"{tag} AUTHENTICATE XOAUTH2 {__import__('base64').b64encode(b'x').decode()}\r\n".encode())
        assert b"PRIVACYREQUIRED" in client.readline()
    finally:
        client.shutdown()
    with smtp_submission(reference, starttls=False) as client:
        code, text = smtp_xoauth2(client, JEAN_BAL, token)
    assert code in (523, 530, 538) and b"TLS" in text or b"Plaintext" in text


@pytest.mark.parametrize("endpoint", ["imaps", "smtps"])
def test_tls_1_0_is_refused_on_implicit_tls(reference, endpoint):
    assert tls_handshake(*host_port(reference, endpoint), tls10_context()) is None
    assert tls_handshake(*host_port(reference, endpoint), __import__("ssl").create_default_context(
        cafile=str(reference.ca_file))) in ("TLSv1.2", "TLSv1.3")


def test_tls_1_0_is_refused_after_starttls(reference):
    import imaplib
    import ssl

    client = imap_connect(reference, starttls=False)
    with pytest.raises((ssl.SSLError, OSError, imaplib.IMAP4.abort)):
        client.starttls(ssl_context=tls10_context())
    with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected)):
        mx_client(reference, context=tls10_context())


def test_auth_cli_certificate_opens_the_org_bal(reference, test_pki):
    assert imap_external(reference, test_pki.org_auth_cli) == ("OK", "")
    for cert in (test_pki.foreign_client, test_pki.expired_client, test_pki.harness_mta, None):
        typ, text = imap_external(reference, cert)
        assert typ == "NO" and "AUTHENTICATIONFAILED" in text


def test_mx_refuses_clients_without_trust_space_certificate(reference, test_pki):
    for cert in (None, test_pki.foreign_client, test_pki.expired_client):
        with pytest.raises(smtplib.SMTPServerDisconnected):
            with mx_client(reference, cert) as client:
                client.sendmail("labo@harnais.mssante.test", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n")
    with mx_client(reference, starttls=False) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("labo@harnais.mssante.test", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 530


def test_mx_refuses_sender_domains_outside_the_whitelist(reference, test_pki):
    with mx_client(reference, test_pki.harness_mta) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("someone@hors-confiance.example", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.recipients[JEAN_BAL][0] == 554


def test_mx_accepts_a_trust_space_mta_and_delivers_to_the_bal(reference, bouchon, mint, test_pki):
    marker = f"opi-in-{uuid.uuid4().hex}"
    with mx_client(reference, test_pki.harness_mta) as client:
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        refused = client.sendmail("labo@harnais.mssante.test", [JEAN_BAL],
                                  message("labo@harnais.mssante.test", JEAN_BAL, "Compte rendu", marker))
    assert refused == {}
    delivered = wait_for_message(reference, lambda: mint(), JEAN_BAL, marker.encode())
    assert delivered is not None and b"Subject: Compte rendu" in delivered


def test_outbound_mail_reaches_the_sink_over_mutual_tls(reference, bouchon, mint, mx_sink):
    marker = f"opi-out-{uuid.uuid4().hex}"
    recipient = "bal.test@harnais.mssante.test"
    with smtp_submission(reference) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
        assert client.sendmail(JEAN_BAL, [recipient], message(JEAN_BAL, recipient, "Sortant", marker)) == {}
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(marker.encode() in m["data"] for m in mx_sink.received):
        time.sleep(0.1)
    received = [m for m in mx_sink.received if marker.encode() in m["data"]]
    assert received, "the operator's MTA did not deliver to the sink"
    assert received[0]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert received[0]["peer_subject"]["commonName"] == "mx.operateur-reference.test"
    assert received[0]["peer_ip"] == "127.0.0.3"


def test_outbound_mta_refuses_destinations_outside_the_trust_space(reference, bouchon, mint):
    with smtp_submission(reference) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(JEAN_BAL, ["quelquun@hors-confiance.example"], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.recipients["quelquun@hors-confiance.example"][0] >= 550


def test_submission_refuses_mail_from_another_bal(reference, bouchon, mint):
    with smtp_submission(reference) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:  # Claire's BAL as sender
            client.sendmail(CLAIRE_BAL, ["marc.lefevre@operateur-reference.test"], b"Subject: x\r\n\r\nx\r\n")
    code, text = refused.value.recipients["marc.lefevre@operateur-reference.test"]
    assert code == 553 and b"not owned by user" in text
