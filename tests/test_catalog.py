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
    assert {f"OPI-IN-{i:02d}" for i in range(1, 8)} <= ids
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
