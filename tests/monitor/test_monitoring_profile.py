"""The monitoring profile needs no trust in the bouchon: LPS-IMAP-02/LPS-SMTP-02 judge what is
observable without it, the SASL mechanisms offered before TLS (the e2e proof against the
plaintext_auth reference is in test_monitor_reference)."""

from __future__ import annotations


import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.suites.support import assert_no_mechanism_before_tls


def test_offering_a_mechanism_before_tls_fails_in_monitoring():
    with pytest.raises(AssertionError, match="authentification proposée avant TLS.*AUTH=XOAUTH2"):
        assert_no_mechanism_before_tls("imap://h:143", {"AUTH=XOAUTH2"}, "monitoring")
    assert_no_mechanism_before_tls("imap://h:143", set(), "monitoring")
    # the full profile proves it with the token's acceptance instead
    assert_no_mechanism_before_tls("smtp://h:587", {"XOAUTH2"}, "full")


def test_no_monitoring_check_needs_the_bouchon_trusted():
    catalog = load_catalog()
    monitoring = [c for c in catalog.checks.values() if c.monitoring]
    assert len(monitoring) > 30
    assert [c.id for c in monitoring if "bouchon_trusted" in c.needs] == []


def test_capabilities_after_oauthbearer_are_not_taken_for_a_token():
    """The pre-TLS capabilities are this check's evidence: ``AUTH=OAUTHBEARER AUTH=PLAIN`` must
    stay readable (the word after OAUTHBEARER was redacted as if it were a bearer token), while
    ``auth=Bearer <token>`` is still redacted."""
    from mssante_conformance.mail.transcript import redact

    caps = "* CAPABILITY IMAP4rev1 STARTTLS AUTH=XOAUTH2 AUTH=OAUTHBEARER AUTH=PLAIN"
    assert redact(caps) == caps
    assert redact("250-AUTH XOAUTH2 OAUTHBEARER PLAIN") == "250-AUTH XOAUTH2 OAUTHBEARER PLAIN"
    assert "opaque-token-value" not in redact("user=x\x01auth=Bearer opaque-token-value\x01\x01")
    assert "opaque-token-value" not in redact("Authorization: Bearer opaque-token-value")
