"""targets.toml: what a target becomes, and a clear French error for each kind of mistake."""

from __future__ import annotations

import pytest

from mssante_conformance.monitor.targets import TargetsError, load_targets, parse_duration


def write(tmp_path, text: str):
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_target_and_defaults(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    path = write(tmp_path, """
[defaults]
every = "6h"
jitter = "10m"

[[targets]]
name = "op-a"
organisation = "orga-a"
operator_urls = ["imaps://imap.op-a.test:993", "smtps://smtp.op-a.test:465"]
operator_mx = "smtp://mx.op-a.test:25"
bal = "jean.dupont@op-a.test"
idnat = "899700366240"
ca_file = "ca.pem"
deadline = "5m"

[[targets]]
name = "op-b"
operator_urls = "imap://127.0.0.1:1143"
every = "1h30m"
""")
    a, b = load_targets(path)
    assert (a.name, a.organisation, a.every, a.jitter, a.deadline) == ("op-a", "orga-a", 21600, 600, 300)
    assert a.scope == "complet" and b.scope == "api_lps"
    assert b.organisation == "op-b" and b.every == 5400 and b.deadline is None
    flags = a.run_flags()
    assert flags[:4] == ["--profile", "monitoring", "--scope", "complet"]
    assert ["--ca-file", str((tmp_path / "ca.pem").resolve())] == flags[flags.index("--ca-file"):][:2]
    assert flags.count("--operator-url") == 2 and "--operator-mx" in flags


@pytest.mark.parametrize("body, words", [
    ('[[targets]]\nname = "a"\n', "operator_urls"),
    ('[[targets]]\nname = "a b"\noperator_urls = ["imap://h:1"]\n', "name"),
    ('[[targets]]\nname = "a"\noperator_urls = ["http://h"]\n', "URL invalide"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\nevery = "6 heures"\n', "every"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\nevery = "1h"\njitter = "2h"\n', "jitter"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\nca_file = "absent.pem"\n', "introuvable"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\nfoo = 1\n', "clé inconnue"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\n[[targets]]\nname = "a"\n'
     'operator_urls = ["imap://h:2"]\n', "deux fois"),
    ('[[targets]]\nname = "a"\noperator_urls = ["imap://h:1"]\ntls_transition = "bientot"\n', "tls_transition"),
    ("[[targets]\n", "TOML invalide"),
    ("", "aucune cible"),
])
def test_mistakes_are_named(tmp_path, body, words):
    with pytest.raises(TargetsError) as err:
        load_targets(write(tmp_path, body))
    assert words in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(TargetsError, match="lecture impossible"):
        load_targets(tmp_path / "absent.toml")


@pytest.mark.parametrize("text, seconds", [("45s", 45), ("15m", 900), ("6h", 21600), ("1h30m", 5400), ("1d", 86400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "6x", "-1h", 6])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
