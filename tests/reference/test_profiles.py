"""The profile table: one deviation each, every named check exists in the catalog."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from mssante_conformance.catalog import load_catalog
from mssante_conformance.reference.directory import load_directory, load_whitelist
from mssante_conformance.reference.profiles import PROFILES, UnknownProfile, get_profile

DEFECTIVE = [name for name in PROFILES if name != "conformant"]
EXPECTED = {"tls_legacy", "plaintext_auth", "accept_any_token", "no_holder_check", "no_expiry_check",
            "mx_no_client_cert", "mx_any_ca", "open_relay", "local_jwt", "trusts_other_issuer"}
# Profiles that do not trust the bouchon state no expectation for the full profile.
BOUCHON_TRUSTED = [name for name in DEFECTIVE if PROFILES[name].trusts_bouchon]


def test_every_asked_profile_exists():
    assert set(DEFECTIVE) == EXPECTED
    assert PROFILES["conformant"].must_fail == ()


@pytest.mark.parametrize("name", BOUCHON_TRUSTED)
def test_defective_profile_names_catalog_checks(name):
    catalog_ids = set(load_catalog().checks)
    profile = get_profile(name)
    assert profile.must_fail and profile.deviation
    assert set(profile.must_fail) <= catalog_ids, set(profile.must_fail) - catalog_ids


@pytest.mark.parametrize("name", DEFECTIVE)
def test_defective_profile_changes_one_concern(name):
    profile = get_profile(name)
    base, knobs = asdict(get_profile(profile.base).knobs), asdict(profile.knobs)
    changed = {k for k in base if base[k] != knobs[k]}
    # tls_legacy is one deviation (the TLS floor) applied to both Dovecot and Postfix.
    assert changed == {"lps_tls_legacy", "mx_tls_legacy"} if name == "tls_legacy" else len(changed) == 1


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(UnknownProfile, match="profil inconnu"):
        get_profile("nope")


def test_directory_has_several_bals_for_one_professional_and_an_org_bal():
    directory = load_directory()
    assert len(directory.bals_of("899700366240")) >= 2
    assert any(m.kind == "ORG" and m.auth_cli for m in directory.mailboxes)
    assert all("@" in m.address and not m.address.split("@")[0].isdigit() for m in directory.mailboxes)
    assert directory.domain in load_whitelist()


def test_local_jwt_fails_only_the_revocation_checks_in_both_harness_profiles():
    local = get_profile("local_jwt")
    assert local.base == "conformant" and local.knobs.validation == "local_jwt"
    assert local.expected_failures("full") == {"LPS-IMAP-14", "LPS-SMTP-15"}
    assert local.expected_failures("monitoring") == set()  # revocation is not a monitoring check


def test_trusts_other_issuer_expects_monitoring_to_pass_and_states_nothing_for_full():
    other = get_profile("trusts_other_issuer")
    assert other.base == "local_jwt" and not other.trusts_bouchon
    assert other.expected_failures("monitoring") == set()
    assert other.expected_failures("full") is None
    assert get_profile("no_expiry_check").expected_failures("monitoring") == {"LPS-IMAP-06", "LPS-SMTP-05"}
    with pytest.raises(ValueError):
        other.expected_failures("complet")
