"""LPS-TLS-05/06 judge only what the scan established: a scan command that failed is `error`
(CheckNotCarriedOut), never a pass on no evidence nor a failure the server did not commit."""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.evidence import Evidence
from mssante_conformance.mail.transcript import Transcript
from mssante_conformance.secret_registry import SecretRegistry
from mssante_conformance.mail.endpoint import parse_operator_url
from mssante_conformance.mail.tls_scan import TlsScanResult
from mssante_conformance.suites.api_lps.test_tls import (
    test_certificate_chain_valid_for_host as tls_06,
    test_no_weak_cipher_suites as tls_05,
)

ENDPOINT = parse_operator_url("imaps://127.0.0.2:993")
ALL_SCANNED = {"ssl3": False, "tls1_0": False, "tls1_1": False, "tls1_2": True, "tls1_3": True}


def evidence() -> Evidence:
    return Evidence(SecretRegistry(), Transcript)


def test_weak_suites_not_judged_when_a_version_was_not_enumerated():
    scan = TlsScanResult(ENDPOINT, versions={**ALL_SCANNED, "tls1_0": None}, errors=("tls1_0 : timeout",))
    with pytest.raises(CheckNotCarriedOut, match="TLS 1.0.*non énumérées"):
        tls_05([scan], evidence())


def test_weak_suites_pass_only_when_every_version_was_enumerated():
    tls_05([TlsScanResult(ENDPOINT, versions=dict(ALL_SCANNED))], evidence())
    weak = TlsScanResult(ENDPOINT, versions=dict(ALL_SCANNED), weak_suites={"TLS_RSA_WITH_RC4_128_SHA": ("RC4",)})
    with pytest.raises(AssertionError, match="suites faibles"):
        tls_05([weak], evidence())


def test_failed_certificate_scan_is_not_a_missing_certificate():
    scan = TlsScanResult(ENDPOINT, versions=dict(ALL_SCANNED), errors=("certificat : connection reset",))
    with pytest.raises(CheckNotCarriedOut, match="analyse du certificat impossible"):
        tls_06([scan], evidence())
    with pytest.raises(AssertionError, match="aucun certificat présenté"):
        tls_06([TlsScanResult(ENDPOINT, versions=dict(ALL_SCANNED))], evidence())
