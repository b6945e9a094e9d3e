"""Each defective profile shows its one deviation (and, where cheap, keeps the rest)."""

from __future__ import annotations

import smtplib
import uuid

import pytest

from reference_clients import (host_port, imap_xoauth2, message, mx_client, smtp_submission,
                               smtp_xoauth2, tls10_context, tls_handshake, wait_for_message)

pytestmark = pytest.mark.slow

JEAN, CLAIRE = "899700366240", "899700771191"
JEAN_BAL = "jean.dupont@operateur-reference.test"



def test_tls_legacy_accepts_tls_1_0_on_imaps_and_submission(reference_profile):
    import imaplib

    with reference_profile("tls_legacy") as op:
        assert tls_handshake(*host_port(op, "imaps"), tls10_context()) == "TLSv1"
        assert tls_handshake(*host_port(op, "smtps"), tls10_context()) == "TLSv1"
        client = imaplib.IMAP4(*host_port(op, "imap"), timeout=10)
        client.starttls(ssl_context=tls10_context())
        assert client.sock.version() == "TLSv1"
        client.logout()
        with smtplib.SMTP(*host_port(op, "smtp"), timeout=10) as submission:
            submission.starttls(context=tls10_context())
            assert submission.sock.version() == "TLSv1"


def test_plaintext_auth_lets_a_token_in_before_tls(reference_profile, bouchon, mint):
    with reference_profile("plaintext_auth") as op:
        assert imap_xoauth2(op, JEAN_BAL, mint(), starttls=False) == ("OK", "")
        with smtp_submission(op, starttls=False) as client:
            assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
        # Still one deviation only: bad tokens are refused.
        assert imap_xoauth2(op, JEAN_BAL, mint("EXPIRED"))[0] == "NO"


def test_accept_any_token_lets_anything_in(reference_profile, bouchon, mint):
    with reference_profile("accept_any_token") as op:
        for token in ("n-importe-quoi", mint("EXPIRED"), mint("FOREIGN_ISSUER"),
                      mint(idnat=CLAIRE)):
            assert imap_xoauth2(op, JEAN_BAL, token) == ("OK", "")
        with smtp_submission(op) as client:
            assert smtp_xoauth2(client, JEAN_BAL, "n-importe-quoi")[0] == 235


def test_no_holder_check_opens_any_bal_with_any_valid_token(reference_profile, bouchon, mint):
    with reference_profile("no_holder_check") as op:
        assert imap_xoauth2(op, JEAN_BAL, mint(idnat=CLAIRE)) == ("OK", "")
        with smtp_submission(op) as client:
            assert smtp_xoauth2(client, JEAN_BAL, mint(idnat=CLAIRE))[0] == 235
        assert imap_xoauth2(op, JEAN_BAL, mint("EXPIRED"))[0] == "NO"
        assert imap_xoauth2(op, JEAN_BAL, mint("FORGED_SIGNATURE"))[0] == "NO"


def test_no_expiry_check_accepts_expired_tokens_only(reference_profile, bouchon, mint):
    with reference_profile("no_expiry_check") as op:
        assert imap_xoauth2(op, JEAN_BAL, mint("EXPIRED")) == ("OK", "")
        with smtp_submission(op) as client:
            assert smtp_xoauth2(client, JEAN_BAL, mint("EXPIRED"))[0] == 235
        for variant in ("REVOKED", "FORGED_SIGNATURE", "FOREIGN_ISSUER", "UNSIGNED"):
            assert imap_xoauth2(op, JEAN_BAL, mint(variant))[0] == "NO", variant
        assert imap_xoauth2(op, JEAN_BAL, mint("EXPIRED", idnat=CLAIRE))[0] == "NO"


def test_mx_no_client_cert_accepts_an_anonymous_mta(reference_profile, bouchon, mint, test_pki):
    with reference_profile("mx_no_client_cert") as op:
        marker = f"anon-{uuid.uuid4().hex}"
        with mx_client(op) as client:  # STARTTLS, no client certificate
            assert client.sendmail("labo@harnais.mssante.test", [JEAN_BAL],
                                   message("labo@harnais.mssante.test", JEAN_BAL, "x", marker)) == {}
        assert wait_for_message(op, lambda: mint(), JEAN_BAL, marker.encode())
        with mx_client(op, starttls=False) as client:  # STARTTLS itself is still required
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("labo@harnais.mssante.test", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n")


def test_mx_any_ca_accepts_a_foreign_certificate(reference_profile, test_pki):
    with reference_profile("mx_any_ca") as op:
        with mx_client(op, test_pki.foreign_client) as client:
            assert client.sendmail("labo@harnais.mssante.test", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n") == {}
        with pytest.raises(smtplib.SMTPServerDisconnected):  # a certificate is still required
            with mx_client(op) as client:
                client.sendmail("labo@harnais.mssante.test", [JEAN_BAL], b"Subject: x\r\n\r\nx\r\n")


def test_open_relay_sends_outside_the_trust_space(reference_profile, bouchon, mint, test_pki):
    with reference_profile("open_relay") as op:
        with smtp_submission(op) as client:
            assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
            assert client.sendmail(JEAN_BAL, ["quelquun@hors-confiance.example"], b"Subject: x\r\n\r\nx\r\n") == {}
        with mx_client(op, test_pki.harness_mta) as client:
            assert client.sendmail("labo@harnais.mssante.test", ["victime@ailleurs.example"],
                                   b"Subject: x\r\n\r\nx\r\n") == {}
