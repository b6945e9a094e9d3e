"""API LPS — TLS on every endpoint (sslyze): one test per catalog check."""

from __future__ import annotations

import pytest

from mssante_conformance.conformance import CheckNotCarriedOut

VERSION_LABELS = {"ssl3": "SSL 3.0", "tls1_0": "TLS 1.0", "tls1_1": "TLS 1.1", "tls1_2": "TLS 1.2"}


def _scanned(tls_scans, evidence):
    for scan in tls_scans:
        evidence.fact(f"{scan.endpoint.url} / analyse TLS", scan.to_dict())
        if scan.error:
            raise CheckNotCarriedOut(f"{scan.endpoint.url} : analyse TLS impossible ({scan.error})")
    return tls_scans


def _version(tls_scans, evidence, version: str) -> list[tuple[object, bool]]:
    out = []
    for scan in _scanned(tls_scans, evidence):
        accepted = scan.accepts(version)
        if accepted is None:
            raise CheckNotCarriedOut(
                f"{scan.endpoint.url} : {VERSION_LABELS[version]} n'a pas pu être éprouvé "
                f"({'; '.join(scan.errors) or 'sans détail'})"
            )
        out.append((scan, accepted))
    return out


@pytest.mark.check("LPS-TLS-01")
def test_tls12_supported(tls_scans, evidence):
    for scan, accepted in _version(tls_scans, evidence, "tls1_2"):
        assert accepted, f"{scan.endpoint.url} : TLS 1.2 n'est pas pris en charge"


@pytest.mark.check("LPS-TLS-02")
def test_tls10_refused(tls_scans, evidence):
    for scan, accepted in _version(tls_scans, evidence, "tls1_0"):
        assert not accepted, f"{scan.endpoint.url} : TLS 1.0 est accepté"


@pytest.mark.check("LPS-TLS-03")
def test_tls11_refused(tls_scans, evidence):
    for scan, accepted in _version(tls_scans, evidence, "tls1_1"):
        assert not accepted, f"{scan.endpoint.url} : TLS 1.1 est accepté"


@pytest.mark.check("LPS-TLS-04")
def test_ssl3_refused(tls_scans, evidence):
    for scan, accepted in _version(tls_scans, evidence, "ssl3"):
        assert not accepted, f"{scan.endpoint.url} : SSL 3.0 est accepté"


def _unscanned_versions(scan) -> list[str]:
    return [VERSION_LABELS.get(v, v) for v, accepted in scan.versions.items() if accepted is None]


@pytest.mark.check("LPS-TLS-05")
def test_no_weak_cipher_suites(tls_scans, evidence):
    for scan in _scanned(tls_scans, evidence):
        # A version whose suites could not be enumerated may hide a weak suite: "none seen" would
        # be a pass on no evidence.
        if missing := _unscanned_versions(scan):
            raise CheckNotCarriedOut(
                f"{scan.endpoint.url} : suites de {', '.join(missing)} non énumérées "
                f"({'; '.join(scan.errors) or 'sans détail'})"
            )
        weak = {suite: reasons for suite, reasons in scan.weak_suites.items()}
        assert not weak, (
            f"{scan.endpoint.url} : suites faibles acceptées : "
            + ", ".join(f"{s} ({'/'.join(r)})" for s, r in sorted(weak.items())[:5])
            + (" …" if len(weak) > 5 else "")
        )


@pytest.mark.check("LPS-TLS-06")
def test_certificate_chain_valid_for_host(tls_scans, evidence):
    for scan in _scanned(tls_scans, evidence):
        cert = scan.certificate
        if cert is None and any(e.startswith("certificat") for e in scan.errors):
            # the certificate scan itself failed: no evidence that no certificate was presented
            raise CheckNotCarriedOut(f"{scan.endpoint.url} : analyse du certificat impossible "
                                     f"({'; '.join(scan.errors)})")
        assert cert is not None, f"{scan.endpoint.url} : aucun certificat présenté"
        assert not cert.expired(), f"{scan.endpoint.url} : certificat expiré le {cert.not_after}"
        assert scan.hostname_matched, f"{scan.endpoint.url} : le certificat ne couvre pas {scan.endpoint.host}"
        assert scan.chain_valid, f"{scan.endpoint.url} : chaîne de certificats non valide ({scan.chain_error})"
