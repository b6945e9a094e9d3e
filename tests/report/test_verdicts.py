"""Verdict rules, requirement roll-up and schema validity of reports built from synthetic results."""

from __future__ import annotations

import json

import pytest

from mssante_conformance.catalog import CatalogError, parse_catalog
from mssante_conformance.report import build_report, parse_report, schema_errors, verify_report
from mssante_conformance.report.integrity import seal
from mssante_conformance.report.verdicts import NOT_EXECUTED, overall_verdict

from report_synthetic import META, passing, result

FAIL_MINOR = ("failed", "Le serveur a accepté un jeton révoqué.")  # LPS-IMAP-14: mineure
FAIL_MAJOR = ("failed", "Le serveur a accepté un jeton pas encore valide.")  # LPS-IMAP-07: majeure
FAIL_BLOCK = ("failed", "Le serveur a accepté un jeton expiré.")  # LPS-IMAP-06: bloquante
ERROR = ("error", "Délai dépassé.")
NO_CERT = ("not_applicable", "paramètre absent : --client-cert/--client-key", ("client_cert",))


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
        # not applicable by the operator's design never counts…
        ({"LPS-IMAP-02": ("not_applicable", "Aucun point d'accès IMAP en STARTTLS.")}, "conforme", True),
        # …not run for lack of a parameter holds "conforme" back, not a finding
        ({"LPS-CERT-01": NO_CERT}, "incomplet", False),
        ({"LPS-CERT-01": NO_CERT, "LPS-IMAP-07": FAIL_MAJOR}, "non_conforme_majeure", False),
        ({"LPS-CERT-01": NO_CERT, "LPS-IMAP-06": FAIL_BLOCK}, "non_conforme_bloquante", False),
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


def test_deadlines_are_the_seed_proposition_from_the_catalog(catalog, make_report):
    assert [(d.step, d.duration, d.status) for d in catalog.deadlines] == [
        ("T0", "6 semaines", "proposition"), ("T1", "6 mois", "proposition"),
        ("T2", "2 mois", "proposition"), ("T3", "2 mois", "proposition"),
        ("T4", "2 mois", "proposition")]
    # worded as the seed does: T3 and T4 are times to comply after sanctions 1 and 2
    by_step = {d.step: d.description for d in catalog.deadlines}
    assert by_step["T3"] == "délai de mise en conformité après la sanction 1"
    assert by_step["T4"] == "délai de mise en conformité après la sanction 2"
    assert not any("sanction 3" in d.description for d in catalog.deadlines)
    report = make_report({"LPS-IMAP-07": FAIL_MAJOR})
    assert report["deadlines"] == report["contract_deadlines"]
    assert report["deadlines"][4]["source"].startswith("seed")


def _catalog_data(deadlines):
    return {"version": "t", "referential": "r",
            "requirements": [{"id": "R", "title": "t", "source": "s"}],
            "checks": [{"id": "LPS-IMAP-01", "title": "t", "requirements": ["R"],
                        "severity": "bloquante", "needs": [], "monitoring": True}],
            "deadlines": deadlines}


DEADLINE = {"step": "T0", "duration": "6 semaines", "description": "d", "status": "proposition",
            "source": "seed"}


@pytest.mark.parametrize("deadlines, message", [
    ([{**DEADLINE, "status": "final"}], "status 'final'"),
    ([DEADLINE, DEADLINE], "duplicate step 'T0'"),
    ([{k: v for k, v in DEADLINE.items() if k != "source"}], "missing field 'source'"),
    ([{**DEADLINE, "duration": " "}], "empty field"),
    ({"T0": "6 semaines"}, "array of tables"),
])
def test_catalog_deadlines_are_validated(deadlines, message):
    with pytest.raises(CatalogError, match=message):
        parse_catalog(_catalog_data(deadlines))


def test_final_deadlines_need_no_code():
    catalog = parse_catalog(_catalog_data([{**DEADLINE, "status": "definitif"}]))
    assert catalog.deadlines[0].status == "definitif"


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


def test_missing_results_of_the_scope_are_not_run_and_hold_conforme_back(catalog):
    results = [result("LPS-IMAP-01", "passed"), result("LPS-IMAP-02", "passed")]
    report = build_report(META, results, catalog)
    assert [c["id"] for c in report["checks"]] == ["LPS-IMAP-01", "LPS-IMAP-02"]
    assert len(report["not_run"]) == len(catalog.checks) - 2
    assert report["verdict"] == "incomplet" and report["complete"] is False
    assert len(report["not_run_in_scope"]) == len(catalog.checks) - 2
    assert {c["reason"] for c in report["not_run_in_scope"]} == {NOT_EXECUTED}
    by_id = {q["id"]: q for q in report["requirements"]}
    assert by_id["ESPACE-CONFIANCE"]["status"] == "non_evalue"


def test_a_run_with_no_applicable_check_is_incomplet(catalog):
    results = [result("LPS-CERT-01", "not_applicable", "Pas de certificat.")]
    report = build_report(META, results, catalog)
    assert report["verdict"] == "incomplet"
    assert report["verdict_reason"].startswith("aucun contrôle applicable n'a été mené ; ")


def test_report_carries_versions_metadata_and_declarations(make_report, catalog):
    report = make_report()
    assert report["format"] == "mssante-conformance/report/2"
    assert report["scope"]["id"] == "complet"
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


# ------------------------------------------------------------------ the declared scope
def _without_mx(catalog, scope):
    """A run with every parameter but the operator MX and the harness sink: the API LPS
    checks pass, the interface opérateurs checks are not_applicable for lack of them."""
    results = passing(catalog, scope="api_lps")
    if scope != "api_lps":
        results += [result(c.id, "not_applicable", "paramètre absent", missing=(
            ("mx",) if c.family == "OPI-IN" else ("sink",)))
            for c in catalog.checks.values() if c.family.startswith("OPI")]
    return build_report({**META, "scope": scope}, results, catalog)


def test_no_mx_with_scope_complet_is_incomplet_and_names_operator_mx(catalog):
    report = _without_mx(catalog, "complet")
    assert report["verdict"] == "incomplet" and report["complete"] is False
    opi = [c.id for c in catalog.checks.values() if c.family.startswith("OPI")]
    assert [c["id"] for c in report["not_run_in_scope"]] == opi
    assert "--operator-mx (MX de l'opérateur)" in report["verdict_reason"]
    assert "OPI-IN-01" in report["verdict_reason"]
    inbound = next(c for c in report["not_run_in_scope"] if c["id"] == "OPI-IN-01")
    assert inbound["missing"] == [{"need": "mx", "parameter": "--operator-mx (MX de l'opérateur)"}]
    assert {q["id"]: q["status"] for q in report["requirements"]}["ESPACE-CONFIANCE"] == "incomplet"
    assert schema_errors(report) == [] and verify_report(report).ok


def test_the_same_run_with_scope_api_lps_is_conforme(catalog):
    report = _without_mx(catalog, "api_lps")
    assert report["verdict"] == "conforme" and report["complete"] is True
    assert report["scope"] == {"id": "api_lps", "label": "API LPS",
                               "families": ["LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT"]}
    assert report["not_run_in_scope"] == []
    assert {c["family"] for c in report["not_run"]} == {"OPI-IN", "OPI-OUT"}
    assert schema_errors(report) == [] and verify_report(report).ok


def test_an_implicit_tls_only_operator_is_not_penalised(catalog):
    """No STARTTLS endpoint given: the STARTTLS-only checks have nothing in clear to test."""
    by_design = "aucun point d'accès IMAP en STARTTLS fourni (imap://) : aucun échange en clair"
    results = [r for r in passing(catalog, scope="api_lps") if r.id not in ("LPS-IMAP-02", "LPS-SMTP-02")]
    results += [result("LPS-IMAP-02", "not_applicable", by_design),
                result("LPS-SMTP-02", "not_applicable", by_design)]
    report = build_report({**META, "scope": "api_lps"}, results, catalog)
    assert report["verdict"] == "conforme" and report["complete"] is True
    entry = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-02")
    assert entry["outcome"] == "not_applicable" and entry["missing"] == []


def test_monitoring_profile_counts_only_monitoring_checks_of_the_scope(catalog):
    monitored = [result(c.id, "passed") for c in catalog.checks.values() if c.monitoring]
    report = build_report({**META, "profile": "monitoring"}, monitored, catalog)
    assert report["verdict"] == "conforme", report["verdict_reason"]
    one_short = build_report({**META, "profile": "monitoring"}, monitored[1:], catalog)
    assert one_short["verdict"] == "incomplet"
    assert [c["id"] for c in one_short["not_run_in_scope"]] == [monitored[0].id]


def test_a_result_outside_the_scope_is_a_harness_fault(catalog):
    with pytest.raises(ValueError, match="outside scope 'api_lps'"):
        build_report({**META, "scope": "api_lps"}, [result("OPI-IN-01", "passed")], catalog)
    with pytest.raises(ValueError, match="scope must be one of"):
        build_report({**META, "scope": "partiel"}, [], catalog)


def _check(cid, outcome, severity="bloquante", missing=()):
    return {"id": cid, "title": cid, "family": cid.rsplit("-", 1)[0], "outcome": outcome,
            "severity": severity, "reason": "", "monitoring": True,
            "missing": [{"need": m, "parameter": f"--{m}"} for m in missing]}


@pytest.mark.parametrize("checks, unrun, level", [
    ([_check("LPS-IMAP-01", "passed")], [], "conforme"),
    ([_check("LPS-IMAP-01", "passed")], [_check("OPI-IN-01", "not_applicable", missing=["mx"])], "incomplet"),
    ([_check("LPS-IMAP-01", "failed", "mineure")], [_check("OPI-IN-01", "x")], "incomplet"),
    ([_check("LPS-IMAP-01", "failed", "majeure")], [_check("OPI-IN-01", "x")], "non_conforme_majeure"),
    ([_check("LPS-IMAP-01", "failed"), _check("LPS-IMAP-02", "error")], [_check("OPI-IN-01", "x")],
     "non_conforme_bloquante"),
    ([_check("LPS-IMAP-01", "error")], [_check("OPI-IN-01", "x")], "incomplet"),
    ([], [], "incomplet"),
])
def test_verdict_table_with_checks_of_the_scope_not_run(checks, unrun, level):
    verdict = overall_verdict(checks, unrun, [{"step": "T0"}])
    assert verdict["level"] == level
    assert verdict["complete"] is (level == "conforme")
    assert bool(verdict["deadlines"]) is level.startswith("non_conforme")
    if unrun:
        assert "OPI-IN-01" in verdict["reason"]


def _tampered(report, **changes):
    forged = json.loads(json.dumps(report))
    forged.update(changes)
    return forged


def test_verify_recomputes_the_scoped_verdict_and_catches_a_tampered_scope(catalog):
    report = _without_mx(catalog, "complet")
    assert verify_report(parse_report(json.dumps(report))).ok
    api_lps = {"id": "api_lps", "label": "API LPS",
               "families": ["LPS-IMAP", "LPS-SMTP", "LPS-TLS", "LPS-CERT"]}
    # naive edit: the digest no longer matches
    edited = _tampered(report, scope=api_lps)
    assert not verify_report(edited).intact
    # re-sealed forgery: the stored "incomplet" no longer follows from the declared scope
    forged = seal(_tampered(report, scope=api_lps))
    problems = verify_report(forged).problems
    assert any("le verdict ne découle pas" in p and "recalculé « conforme »" in p for p in problems)
    # a scope whose families were widened or narrowed under a known name
    narrowed = seal(_tampered(report, scope={**report["scope"], "families": ["LPS-IMAP"]}))
    assert any("périmètre « complet »" in p for p in verify_report(narrowed).problems)
