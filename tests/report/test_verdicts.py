"""Verdict rules, requirement roll-up and schema validity of reports built from synthetic results."""

from __future__ import annotations

import json

import pytest

from mssante_conformance.report import build_report, parse_report, schema_errors, verify_report
from mssante_conformance.report.verdicts import DEADLINES

from report_synthetic import META, passing, result

FAIL_MINOR = ("failed", "Le serveur a accepté un jeton révoqué.")  # LPS-IMAP-14: mineure
FAIL_MAJOR = ("failed", "Le serveur a accepté un jeton pas encore valide.")  # LPS-IMAP-07: majeure
FAIL_BLOCK = ("failed", "Le serveur a accepté un jeton expiré.")  # LPS-IMAP-06: bloquante
ERROR = ("error", "Délai dépassé.")


@pytest.mark.parametrize(
    "overrides, verdict, complete",
    [
        ({}, "conforme", True),
        ({"LPS-IMAP-14": FAIL_MINOR, "LPS-SMTP-15": FAIL_MINOR}, "conforme", True),
        ({"LPS-IMAP-07": FAIL_MAJOR, "LPS-IMAP-14": FAIL_MINOR}, "non_conforme_majeure", True),
        ({"LPS-IMAP-06": FAIL_BLOCK, "LPS-IMAP-07": FAIL_MAJOR}, "non_conforme_bloquante", True),
        ({"LPS-IMAP-01": ERROR}, "incomplet", False),
        ({"LPS-IMAP-01": ERROR, "LPS-IMAP-14": FAIL_MINOR}, "incomplet", False),
        # a finding is a fact: errors elsewhere neither hide it nor downgrade it to "incomplet"
        ({"LPS-IMAP-01": ERROR, "LPS-IMAP-07": FAIL_MAJOR}, "non_conforme_majeure", False),
        ({"LPS-IMAP-01": ERROR, "LPS-IMAP-06": FAIL_BLOCK}, "non_conforme_bloquante", False),
        # not_applicable never counts
        ({"LPS-CERT-01": ("not_applicable", "Pas de certificat.")}, "conforme", True),
    ],
)
def test_verdict_paths(make_report, overrides, verdict, complete):
    report = make_report(overrides)
    assert report["verdict"] == verdict
    assert report["complete"] is complete
    assert schema_errors(report) == []
    assert verify_report(report).ok
    non_conforme = verdict.startswith("non_conforme")
    assert [d["step"] for d in report["deadlines"]] == (
        ["T0", "T1", "T2", "T3", "T4"] if non_conforme else []
    )


def test_deadlines_are_the_contract_ones():
    assert [(d["step"], d["duration"]) for d in DEADLINES] == [
        ("T0", "6 semaines"), ("T1", "6 mois"), ("T2", "2 mois"), ("T3", "2 mois"), ("T4", "2 mois")]


@pytest.mark.parametrize("transition, verdict, severity",
                         [("during", "conforme", "mineure"),
                          ("after", "non_conforme_bloquante", "bloquante")])
def test_tls_transition_decides_tls10_severity(make_report, transition, verdict, severity):
    report = make_report({"LPS-TLS-02": ("failed", "TLS 1.0 accepté.")}, tls_transition=transition)
    check = next(c for c in report["checks"] if c["id"] == "LPS-TLS-02")
    assert (report["verdict"], check["severity"], check["severity_rule"]) == (
        verdict, severity, "tls_transition")
    assert report["tls_transition"] == transition
    assert schema_errors(report) == []


def test_requirement_is_conforme_only_if_all_its_checks_pass(make_report):
    report = make_report({"LPS-IMAP-07": FAIL_MAJOR, "LPS-SMTP-13": ERROR})
    by_id = {q["id"]: q for q in report["requirements"]}
    assert by_id["MSS 7.2"]["status"] == "non_conforme"
    assert by_id["MSS 7.2"]["worst_severity"] == "majeure"
    assert by_id["MSS 7.2"]["failed"] == ["LPS-IMAP-07"]
    assert by_id["MSS 7.4"]["status"] == "incomplet"
    assert by_id["MSS 7.4"]["errors"] == ["LPS-SMTP-13"]
    assert by_id["ESPACE-CONFIANCE"]["status"] == "conforme"


def test_missing_results_are_not_run_and_do_not_decide(catalog):
    results = [result("LPS-IMAP-01", "passed"), result("LPS-IMAP-02", "passed")]
    report = build_report(META, results, catalog)
    assert [c["id"] for c in report["checks"]] == ["LPS-IMAP-01", "LPS-IMAP-02"]
    assert len(report["not_run"]) == len(catalog.checks) - 2
    assert report["verdict"] == "conforme"
    by_id = {q["id"]: q for q in report["requirements"]}
    assert by_id["ESPACE-CONFIANCE"]["status"] == "non_evalue"


def test_a_run_with_no_applicable_check_is_incomplet(catalog):
    results = [result("LPS-CERT-01", "not_applicable", "Pas de certificat.")]
    report = build_report(META, results, catalog)
    assert report["verdict"] == "incomplet"
    assert report["verdict_reason"] == "aucun contrôle applicable n'a été mené"


def test_report_carries_versions_metadata_and_declarations(make_report, catalog):
    report = make_report()
    assert report["format"] == "mssante-conformance/report/1"
    assert report["catalog_version"] == catalog.version
    assert report["harness_version"]
    assert report["command_line"].startswith("mssante-conformance run --operator-url")
    assert report["bouchon"]["issuer"].endswith("/auth/realms/esante-wallet")
    assert {d["id"] for d in report["declarations"]} >= {"MSS 14", "MSS 17", "MSS 19", "MSS 20"}
    # declarative requirements are never a check outcome, never "passed"
    assert not {c["id"] for c in report["checks"]} & {d["id"] for d in report["declarations"]}


def test_unknown_or_duplicate_results_are_refused(catalog):
    with pytest.raises(ValueError, match="LPS-IMAP-99"):
        build_report(META, [result("LPS-IMAP-99", "passed")], catalog)
    with pytest.raises(ValueError, match="two results"):
        build_report(META, [result("LPS-IMAP-01", "passed")] * 2, catalog)
    with pytest.raises(ValueError, match="tls_transition"):
        build_report(META, passing(catalog), catalog, tls_transition="soon")


def test_odd_evidence_is_normalised_so_the_digest_survives_a_round_trip(catalog):
    odd = {"facts": {"ports": (993, 143), "raw": b"\xff* OK", "ratio": float("nan"),
                     3: {"nested", "set"}}}
    report = build_report(META, [result("LPS-IMAP-01", "passed", evidence=odd)], catalog)
    reloaded = parse_report(json.dumps(report))
    assert verify_report(reloaded).ok
    assert reloaded["checks"][0]["evidence"]["facts"]["ports"] == [993, 143]


def test_schema_rejects_a_wrong_outcome(make_report):
    report = json.loads(json.dumps(make_report()))
    report["checks"][0]["outcome"] = "ok"
    assert any("$.checks[0].outcome" in e for e in schema_errors(report))
