"""Fixtures shared by the API LPS checks."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tls_scans(target):
    """One sslyze scan of every API LPS endpoint (run concurrently, shared by LPS-TLS-*)."""
    from mssante_conformance.mail.tls_scan import scan_endpoints

    if not target.endpoints:
        return []
    return scan_endpoints(
        target.endpoints,
        ca_file=str(target.ca_file) if target.ca_file else None,
        timeout=target.network_timeout,
    )
