"""RunSettings: flags, TOML file, validation — pure, no server."""

import pytest

from mssante_conformance.settings import SettingsError, build_settings, to_argv


def test_defaults_target_the_embedded_reference():
    s = build_settings({})
    assert s.embedded_reference
    assert s.tls_transition == "during" and s.profile == "full"
    assert to_argv(s) == []


def test_flags_override_the_config_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('operator-url = ["imaps://127.0.0.2:993"]\nbal = "a.b@op.test"\nidnat = "899700366240"\n'
                   'tls-transition = "after"\n')
    s = build_settings({"config": str(cfg), "bal": "c.d@op.test"})
    assert s.operator_urls == ("imaps://127.0.0.2:993",)
    assert s.bal == "c.d@op.test"
    assert s.tls_transition == "after"
    assert not s.embedded_reference
    # the reproduction command carries the values, not the file
    argv = to_argv(s)
    assert "--config" not in argv
    assert argv[argv.index("--bal") + 1] == "c.d@op.test"
    assert argv[argv.index("--tls-transition") + 1] == "after"


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"operator_urls": ["http://x"]}, "schéma inconnu"),
        ({"operator_urls": ["imaps://x"], "idnat": "jean"}, "IDNAT"),
        ({"operator_urls": ["imaps://x"], "bal": "sans-arobase"}, "adresse de BAL"),
        ({"operator_urls": ["imaps://x"], "client_cert": "/nonexistent.pem", "client_key": "/k"}, "introuvable"),
        ({"operator_urls": ["imaps://x"], "client_cert": "/etc/hostname"}, "vont ensemble"),
        ({"operator_mx": "smtp://x:25", "mta_cert": "/etc/hostname"}, "--mta-cert et --mta-key"),
        ({"operator_mx": "smtp://x:25", "sink_key": "/etc/hostname"}, "--sink-cert et --sink-key"),
        ({"operator_mx": "imap://x"}, "smtp://"),
        ({"sink_listen": "nohost"}, "hôte:port"),
        ({"delivery_timeout": "-1"}, "entre 0 et 3600"),
        ({"bouchon_url": "http://127.0.0.1:1"}, "--bouchon-url sans --operator-url"),
    ],
)
def test_bad_parameters_are_named(flags, message):
    with pytest.raises(SettingsError, match=message):
        build_settings(flags)


def test_bad_config_files(tmp_path):
    with pytest.raises(SettingsError, match="introuvable"):
        build_settings({"config": str(tmp_path / "absent.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("bal = ")
    with pytest.raises(SettingsError, match="TOML valide"):
        build_settings({"config": str(bad)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    with pytest.raises(SettingsError, match="clé inconnue 'colour'"):
        build_settings({"config": str(unknown)})


def test_public_parameters_hold_no_secret(monkeypatch):
    monkeypatch.setenv("MSSANTE_BOUCHON_ADMIN_SECRET", "s3cr3t-admin-value")
    s = build_settings({"operator_urls": ["imaps://127.0.0.2"]})
    params = s.public_parameters()
    assert "s3cr3t-admin-value" not in repr(params)
    assert params["bouchon_admin_secret"] == "configuré"


def test_trust_anchors_must_be_a_pem_bundle_of_cas(tmp_path):
    from mssante_conformance.pki import TestPKI
    from mssante_conformance.trust import TrustAnchors

    pki = TestPKI.ensure(tmp_path / "pki")
    s = build_settings({"trust_anchors": str(pki.ca_file)})
    assert s.trust_anchors == pki.ca_file and "--trust-anchors" in to_argv(s)
    anchors = TrustAnchors.load(pki.ca_file)
    assert len(anchors.anchors) == 2 and all(len(a.sha256) == 64 for a in anchors.anchors)
    assert [a.self_signed for a in anchors.anchors] == [False, True]  # issuing CA, then root
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("pas un certificat\n")
    with pytest.raises(SettingsError, match="--trust-anchors : .*aucun certificat PEM"):
        build_settings({"trust_anchors": str(garbage)})
    with pytest.raises(SettingsError, match="n'est pas un certificat d'AC"):
        build_settings({"trust_anchors": str(pki.harness_mta.cert)})  # a leaf is no anchor
    with pytest.raises(SettingsError, match="introuvable"):
        build_settings({"trust_anchors": str(tmp_path / "absent.pem")})
