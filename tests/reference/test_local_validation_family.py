"""The local_jwt family: Dovecot's oauth2 passdb validates the JWT itself, with no introspection.

Plain imaplib/smtplib clients (reference_clients) against the real Dovecot + Postfix; what
the bouchon's call log shows proves where the token was (not) checked.
"""

from __future__ import annotations

import time
import uuid

import pytest

from mssante_conformance.reference import ReferenceOperator
from mssante_conformance.reference.directory import Directory, Mailbox
from mssante_conformance.reference.processes import pid_alive
from reference_clients import imap_xoauth2, message, smtp_submission, smtp_xoauth2

pytestmark = pytest.mark.slow

JEAN, CLAIRE, MARC = "899700366240", "899700771191", "899700427885"
DOMAIN = "operateur-reference.test"
JEAN_BAL, CABINET = f"jean.dupont@{DOMAIN}", f"cabinet.dupont@{DOMAIN}"
CLAIRE_BAL = f"claire.martin@{DOMAIN}"
# What Dovecot's local validation catches by itself (oauth2-jwt.c), one variant per reason.
REFUSED = ("EXPIRED", "NOT_YET_VALID", "FOREIGN_ISSUER", "FORGED_SIGNATURE", "UNSIGNED",
           "HS256_PUBLIC_KEY", "EMBEDDED_JWK", "TAMPERED_PAYLOAD", "WRONG_AZP")


@pytest.fixture(scope="module")
def local_jwt(reference_profile):
    with reference_profile("local_jwt") as op:
        yield op


def test_valid_token_opens_every_bal_of_its_holder_without_introspection(local_jwt, bouchon, mint):
    since = time.time()
    started = time.monotonic()
    assert imap_xoauth2(local_jwt, JEAN_BAL, mint()) == ("OK", "")
    print(f"local validation, valid XOAUTH2 login + SELECT: {1000 * (time.monotonic() - started):.1f} ms")
    assert imap_xoauth2(local_jwt, CABINET, mint()) == ("OK", "")
    with smtp_submission(local_jwt) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
    assert imap_xoauth2(local_jwt, CLAIRE_BAL, mint(idnat=CLAIRE)) == ("OK", "")
    assert bouchon.calls(since=since, endpoint="introspection") == []


@pytest.mark.parametrize("variant", REFUSED)
def test_invalid_tokens_are_refused_locally(local_jwt, bouchon, mint, variant):
    since = time.time()
    status, text = imap_xoauth2(local_jwt, JEAN_BAL, mint(variant))
    assert status == "NO" and "AUTHENTICATIONFAILED" in text, (status, text)
    with smtp_submission(local_jwt) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint(variant))[0] == 535
    assert bouchon.calls(since=since, endpoint="introspection") == []


def test_another_professionals_token_is_refused(local_jwt, mint):
    assert imap_xoauth2(local_jwt, JEAN_BAL, mint(idnat=CLAIRE))[0] == "NO"
    assert imap_xoauth2(local_jwt, CLAIRE_BAL, mint())[0] == "NO"
    with smtp_submission(local_jwt) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint(idnat=CLAIRE))[0] == 535
    assert imap_xoauth2(local_jwt, f"inconnu@{DOMAIN}", mint())[0] == "NO"


def test_revoked_token_is_accepted_since_revocation_is_invisible(local_jwt, mint):
    # The one thing local validation cannot see: the documented expectation of this family.
    assert imap_xoauth2(local_jwt, JEAN_BAL, mint("REVOKED")) == ("OK", "")


def test_postfix_refuses_mail_from_another_bal(local_jwt, mint):
    import smtplib

    with smtp_submission(local_jwt) as client:
        assert smtp_xoauth2(client, JEAN_BAL, mint())[0] == 235
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail(CLAIRE_BAL, [CLAIRE_BAL],
                            message(CLAIRE_BAL, CLAIRE_BAL, "x", uuid.uuid4().hex))
        code, _ = refused.value.recipients[CLAIRE_BAL]
        assert 500 <= code < 600
        # and the authenticated BAL itself may send (the user is the BAL again, not the IDNAT)
        assert client.sendmail(JEAN_BAL, [CABINET], message(JEAN_BAL, CABINET, "x", uuid.uuid4().hex)) == {}


def test_a_bal_with_two_holders_opens_for_both_and_no_one_else(bouchon, mint, test_pki, mx_sink,
                                                               tmp_path):
    shared = Directory(DOMAIN, (
        Mailbox(JEAN_BAL, "PER", (JEAN,)),
        Mailbox(f"cabinet.partage@{DOMAIN}", "CAB", (JEAN, CLAIRE)),
    ))
    op = ReferenceOperator(tmp_path / "op", bouchon, profile="local_jwt", sink=mx_sink.address,
                           pki=test_pki, directory=shared)
    with op:
        assert imap_xoauth2(op, f"cabinet.partage@{DOMAIN}", mint()) == ("OK", "")
        assert imap_xoauth2(op, f"cabinet.partage@{DOMAIN}", mint(idnat=CLAIRE)) == ("OK", "")
        assert imap_xoauth2(op, f"cabinet.partage@{DOMAIN}", mint(idnat=MARC))[0] == "NO"
        assert imap_xoauth2(op, JEAN_BAL, mint(idnat=CLAIRE))[0] == "NO"
    assert not [p for p in op.pids if pid_alive(p)]


def test_missing_subject_name_id_is_a_temporary_failure_not_a_refusal(local_jwt, mint):
    # Dovecot's oauth2 passdb answers "No username returned" as an internal failure
    # (db-oauth2.c): IMAP says [UNAVAILABLE], not [AUTHENTICATIONFAILED]. Recorded as a limit
    # of this family (docs/reference-operator.md); no catalog check uses this variant.
    status, text = imap_xoauth2(local_jwt, JEAN_BAL, mint("MISSING_SUBJECT_NAME_ID"))
    assert status == "NO" and "UNAVAILABLE" in text, (status, text)


def test_operator_trusting_another_issuer_accepts_its_tokens_and_refuses_the_bouchons(
        reference_profile, bouchon, mint):
    with reference_profile("trusts_other_issuer") as op:
        since = time.time()
        # Same claims as a valid bouchon token (SubjectNameID, azp, dates), signed by the
        # issuer this operator trusts: it opens the BAL, so the operator works.
        claims = bouchon.mint("valid", idnat=JEAN).claims
        assert imap_xoauth2(op, JEAN_BAL, op.other_issuer.sign(claims)) == ("OK", "")
        with smtp_submission(op) as client:
            assert smtp_xoauth2(client, JEAN_BAL, op.other_issuer.sign(claims))[0] == 235
        assert imap_xoauth2(op, CLAIRE_BAL, op.other_issuer.sign(claims))[0] == "NO"
        # The bouchon's own valid token is refused: not its issuer, not its key.
        assert imap_xoauth2(op, JEAN_BAL, mint())[0] == "NO"
        assert bouchon.calls(since=since) == []  # it never called the bouchon, for anything


def test_keys_come_over_http_from_a_bouchon_known_only_by_its_urls(bouchon, mint, test_pki, mx_sink,
                                                                   tmp_path):
    """What a remote bouchon offers (URLs and the operator client, no Python object): the
    operator fetches the JWKS over HTTP once, at start-up, and never calls again at login."""
    from types import SimpleNamespace

    by_url = SimpleNamespace(issuer=bouchon.issuer, jwks_uri=bouchon.jwks_uri,
                             introspection_endpoint=bouchon.introspection_endpoint,
                             operator_client=bouchon.operator_client)
    since = time.time()
    op = ReferenceOperator(tmp_path / "op", by_url, profile="local_jwt", sink=mx_sink.address, pki=test_pki)
    with op:
        fetched = bouchon.calls(since=since)
        assert [c.endpoint for c in fetched] == ["jwks"], fetched
        assert op.trusted_azps == [bouchon.lps_client.client_id]
        assert imap_xoauth2(op, JEAN_BAL, mint()) == ("OK", "")
        assert imap_xoauth2(op, JEAN_BAL, mint("EXPIRED"))[0] == "NO"
        assert bouchon.calls(since=since) == fetched
    assert not [p for p in op.pids if pid_alive(p)]
