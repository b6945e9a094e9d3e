"""The test IGC Santé PKI: names, extensions, chains, expiry, file modes, idempotence."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from mssante_conformance.pki import ISSUING_CN, ROOT_CN, TEST_ORG_POLICY_OID, TestPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPKI.ensure(tmp_path_factory.mktemp("pki"))


def _verify(pki, pair, ca) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-untrusted", str(pair.cert),
                           str(pair.cert)], capture_output=True, text=True, timeout=10)


def test_ca_names_are_those_of_igc_sante_test(pki):
    root, issuing = pki.root_ca.load_cert(), pki.issuing_ca.load_cert()
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ROOT_CN
    assert issuing.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ISSUING_CN
    assert issuing.issuer == root.subject
    ous = [a.value for a in issuing.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    assert ous == ["IGC-SANTE TEST", "0002 187512751"]


@pytest.mark.parametrize("name", ["operator_server", "operator_mta", "org_auth_cli", "harness_mta",
                                  "harness_sink"])
def test_leaf_certificates_chain_to_the_test_root(pki, name):
    result = _verify(pki, getattr(pki, name), pki.ca_file)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["foreign_client", "foreign_server"])
def test_foreign_certificates_do_not_chain_to_igc_sante(pki, name):
    assert _verify(pki, getattr(pki, name), pki.ca_file).returncode != 0
    assert _verify(pki, getattr(pki, name), pki.foreign_ca.cert).returncode == 0


@pytest.mark.parametrize("name", ["expired_client", "expired_server"])
def test_expired_certificates_are_expired(pki, name):
    cert = getattr(pki, name).load_cert()
    assert cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc)
    result = _verify(pki, getattr(pki, name), pki.ca_file)
    assert result.returncode != 0 and "certificate has expired" in result.stdout + result.stderr


def test_server_certificate_names_and_usages(pki):
    cert = pki.operator_server.load_cert()
    san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.2", "127.0.0.3"}
    assert "imap.operateur-reference.test" in san.get_values_for_type(x509.DNSName)
    mta = pki.operator_mta.load_cert().extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert set(mta) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    sink = pki.harness_sink.load_cert().extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert "127.0.0.1" in {str(ip) for ip in sink.get_values_for_type(x509.IPAddress)}


def test_org_auth_cli_carries_structure_id_and_policy(pki):
    cert = pki.org_auth_cli.load_cert()
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == pki.org_structure_id
    eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    policies = cert.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    assert [p.policy_identifier.dotted_string for p in policies] == [TEST_ORG_POLICY_OID]


def test_auth_cli_policy_oid_is_configurable(tmp_path):
    pki = TestPKI.ensure(tmp_path, auth_cli_policy_oid="1.2.3.4.5")
    policies = pki.org_auth_cli.load_cert().extensions.get_extension_for_oid(
        ExtensionOID.CERTIFICATE_POLICIES).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.3.4.5"]


def test_keys_are_private_and_rerun_keeps_everything(pki):
    keys = sorted(pki.directory.glob("*.key"))
    assert len(keys) == 12
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    before = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    TestPKI.ensure(pki.directory)
    assert {p.name: p.read_bytes() for p in pki.directory.iterdir()} == before


def test_cli_pki_init_writes_and_never_prints_keys(tmp_path, capsys):
    from mssante_conformance.cli import main

    assert main(["pki", "init", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "igc-sante-test-ca.pem" in out and "PRIVATE KEY" not in out
    assert (tmp_path / "p" / "org-auth-cli.key").exists()
