import pytest

from mssante_conformance.catalog import CatalogError, load_catalog, parse_catalog
from mssante_conformance.outcomes import Severity


def test_packaged_catalog_has_every_checks_md_family():
    catalog = load_catalog()
    ids = set(catalog.checks)
    assert {f"LPS-IMAP-{i:02d}" for i in range(1, 17)} <= ids
    assert {f"LPS-SMTP-{i:02d}" for i in range(1, 16)} <= ids
    assert {f"LPS-TLS-{i:02d}" for i in range(1, 7)} <= ids
    assert {f"LPS-CERT-{i:02d}" for i in range(1, 4)} <= ids
    assert {f"OPI-IN-{i:02d}" for i in range(1, 9)} <= ids
    assert {f"OPI-OUT-{i:02d}" for i in range(1, 6)} <= ids
    assert {d.id for d in catalog.declarations} >= {"MSS 14", "MSS 17", "MSS 19", "MSS 20"}


def test_tls_transition_severity_depends_on_the_setting():
    check = load_catalog().check("LPS-TLS-02")
    assert check.severity_for("during") is Severity.MINEURE
    assert check.severity_for("after") is Severity.BLOQUANTE
    assert load_catalog().check("LPS-IMAP-06").severity_for("after") is Severity.BLOQUANTE


MINIMAL = {
    "version": "t",
    "referential": "r",
    "requirements": [{"id": "R", "title": "t", "source": "s"}],
    "checks": [
        {"id": "LPS-IMAP-01", "title": "t", "requirements": ["R"], "severity": "majeure",
         "needs": [], "monitoring": True}
    ],
}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["checks"][0].update(severity="grave"), "severity"),
        (lambda d: d["checks"][0].update(requirements=["X"]), "unknown requirement"),
        (lambda d: d["checks"][0].update(id="IMAP-1"), "id does not match"),
        (lambda d: d["checks"][0].update(needs=["moon"]), "unknown needs"),
        (lambda d: d["checks"][0].pop("title"), "missing field 'title'"),
        (lambda d: d["checks"].append(dict(d["checks"][0])), "duplicate id"),
        (lambda d: d["checks"][0].update(refusal=["smtp_535"]), "unknown refusal kinds"),
        (lambda d: d["checks"][0].update(refusal=[]), "'refusal' is empty"),
        (lambda d: d["checks"][0].update(refusal="smtp_5xx"), "'refusal' must be a list"),
    ],
)
def test_malformed_catalog_is_refused_with_the_entry_named(mutate, message):
    import copy

    data = copy.deepcopy(MINIMAL)
    mutate(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_unreadable_catalog_file(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("version = ")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(bad)
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.toml")


def test_refusal_field_is_read_and_trust_anchors_is_a_known_need():
    import copy

    data = copy.deepcopy(MINIMAL)
    data["checks"][0].update(refusal=["imap_no_bad", "tls_handshake"], needs=["trust_anchors"])
    check = parse_catalog(data).check("LPS-IMAP-01")
    assert check.refusal == ("imap_no_bad", "tls_handshake") and check.needs == {"trust_anchors"}
    assert parse_catalog(copy.deepcopy(MINIMAL)).check("LPS-IMAP-01").refusal == ()
    opi = load_catalog()
    assert opi.check("OPI-IN-08").needs == {"mx", "trust_anchors"} and opi.check("OPI-IN-08").monitoring
    assert "trust_anchors" in opi.check("OPI-OUT-03").needs
