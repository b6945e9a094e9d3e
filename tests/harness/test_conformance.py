"""Outcome classification, needs and secret redaction — pure, no server."""

from types import SimpleNamespace

from mssante_conformance.catalog import load_catalog
from mssante_conformance.conformance import NotApplicable, missing_needs
from mssante_conformance.evidence import Evidence
from mssante_conformance.mail.transcript import Transcript
from mssante_conformance.plugin import classify_exception
from mssante_conformance.secret_registry import SecretRegistry, xoauth2_b64_forms
from mssante_conformance.mail.errors import ProbeTimeout
from mssante_conformance.outcomes import Outcome


def test_assertion_in_the_check_is_a_non_conformity_with_its_first_line_as_reason():
    outcome, reason = classify_exception(AssertionError("jeton expiré accepté\nassert False"), "call")
    assert (outcome, reason) == (Outcome.FAILED, "jeton expiré accepté")


def test_assertion_in_setup_is_a_harness_error_not_a_failure():
    outcome, _ = classify_exception(AssertionError("x"), "setup")
    assert outcome is Outcome.ERROR


def test_probe_faults_and_unknown_exceptions_are_errors():
    outcome, reason = classify_exception(ProbeTimeout("pas de réponse en 10 s", step="greeting"), "call")
    assert outcome is Outcome.ERROR and "greeting" in reason and "10 s" in reason
    outcome, reason = classify_exception(KeyError("boom"), "call")
    assert outcome is Outcome.ERROR and "KeyError" in reason


def test_a_target_that_could_not_be_set_up_is_a_check_not_carried_out():
    from mssante_conformance.target import TargetError

    outcome, reason = classify_exception(TargetError("le puits MX n'a pas pu écouter"), "setup")
    assert (outcome, reason) == (Outcome.ERROR, "contrôle non mené : le puits MX n'a pas pu écouter")


def test_not_applicable():
    outcome, reason = classify_exception(NotApplicable(["bal", "mx"]), "setup")
    assert outcome is Outcome.NOT_APPLICABLE and "--bal" in reason and "--operator-mx" in reason


def _target(**kw):
    base = dict(bal="a@b", idnat="899700366240", other_idnat="899700771191", client_cert=None,
                client_key=None, mx=None, sink_available=False, imap=["imaps"], smtp=[])
    base.update(kw)
    return SimpleNamespace(**base)


def test_needs_follow_the_catalog_and_the_family_endpoint():
    catalog = load_catalog()
    assert missing_needs(catalog.check("LPS-IMAP-06"), _target()) == []
    assert missing_needs(catalog.check("LPS-IMAP-06"), _target(bal=None)) == ["bal"]
    assert missing_needs(catalog.check("LPS-SMTP-05"), _target()) == ["smtp"]
    assert missing_needs(catalog.check("LPS-CERT-01"), _target()) == ["client_cert"]
    assert missing_needs(catalog.check("OPI-IN-03"), _target()) == ["mx"]
    assert missing_needs(catalog.check("OPI-IN-08"), _target(mx="smtp://mx")) == ["trust_anchors"]
    assert missing_needs(catalog.check("OPI-IN-08"), _target(mx="smtp://mx", trust_anchors=object())) == []
    outcome, reason = classify_exception(NotApplicable(["trust_anchors"]), "setup")
    assert outcome is Outcome.NOT_APPLICABLE and "--trust-anchors" in reason


def test_registry_redacts_raw_and_sasl_forms():
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    registry = SecretRegistry()
    fp = registry.add(token, *xoauth2_b64_forms("jean.dupont@op.test", token))
    b64 = xoauth2_b64_forms("jean.dupont@op.test", token)[0]
    text = f"C: A1 AUTHENTICATE XOAUTH2 {b64} / {token}"
    clean = registry.redact(text)
    assert token not in clean and b64 not in clean
    assert clean.count(fp) == 2
    assert registry.leaks(text) == [fp] and registry.leaks(clean) == []


def test_evidence_is_redacted_even_in_facts():
    token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    registry = SecretRegistry()
    registry.add(token)
    ev = Evidence(registry, Transcript)
    ev.fact("token_sent", token)
    tr = ev.transcript("IMAP imaps://127.0.0.2:993")
    tr.client(f"A1 AUTHENTICATE XOAUTH2 {xoauth2_b64_forms('a@b', token)[0]}")
    data = ev.to_dict()
    assert token not in repr(data)
    assert data["transcripts"][0]["title"] == "IMAP imaps://127.0.0.2:993"


def test_manual_outbound_mode_needs_no_api_lps_submission():
    catalog = load_catalog()
    auto = _target(smtp=[], sink_available=True)
    manual = _target(smtp=[], sink_available=True, idnat=None, outbound_mode="manual")
    assert missing_needs(catalog.check("OPI-OUT-01"), auto) == ["smtp"]
    assert missing_needs(catalog.check("OPI-OUT-01"), manual) == []
