"""How --ca-file and --trust-anchors combine for the API LPS server certificates (target.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

from mssante_conformance.pki import TestPKI
from mssante_conformance.target import _lps_anchors
from mssante_conformance.trust import TrustAnchors


def _certs(path) -> int:
    return path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")


def test_ca_file_alone_is_kept_as_before(tmp_path):
    pki = TestPKI.ensure(tmp_path / "pki")
    assert _lps_anchors(pki.ca_file, None, tmp_path) == pki.ca_file
    assert _lps_anchors(None, None, tmp_path) is None  # the system store


def test_anchors_are_added_to_the_ca_file_or_to_the_system_store(tmp_path):
    operator, igc = TestPKI.ensure(tmp_path / "op"), TestPKI.ensure(tmp_path / "igc")
    anchors = TrustAnchors.load(igc.ca_file)
    both = _lps_anchors(operator.ca_file, anchors, tmp_path)
    assert _certs(both) == 4 and both.read_bytes().startswith(operator.ca_file.read_bytes().rstrip(b"\n"))
    alone = _lps_anchors(None, anchors, tmp_path)
    system = ssl.get_default_verify_paths().cafile
    expected = 2 + (_certs(Path(system)) if system else 0)
    assert _certs(alone) == expected
    ssl.create_default_context(cafile=str(alone))  # a bundle OpenSSL loads
