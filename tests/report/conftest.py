"""Fixtures of the report's own tests: catalog, synthetic reports."""

from __future__ import annotations

import pytest
from report_synthetic import META, TRANSCRIPT, passing, result

from mssante_conformance.catalog import load_catalog
from mssante_conformance.report import build_report


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def make_report(catalog):
    """make_report({check_id: (outcome, reason[, missing])}, tls_transition=..., scope=...) —
    every other check of the scope passes."""

    def make(overrides=None, tls_transition="during", meta=META, scope="complet"):
        overrides = overrides or {}
        results = passing(catalog, except_ids=overrides, scope=scope)
        meta = {**meta, "scope": scope}
        for cid, (outcome, reason, *missing) in overrides.items():
            evidence = {"transcripts": [TRANSCRIPT], "facts": {"variant": "expired", "answer": "OK"},
                        "bouchon_calls": [{"endpoint": "introspection", "client_id": "op-test",
                                           "token_fingerprint": "sha256:3f2a9c01be77",
                                           "answer": {"active": True}}]}
            results.append(result(cid, outcome, reason, evidence, *missing))
        return build_report(meta, results, catalog, tls_transition=tls_transition)

    return make


@pytest.fixture(scope="session")
def bloquante_report(make_report):
    return make_report({
        "LPS-IMAP-06": ("failed", "Le serveur a accepté un jeton expiré (réponse « a1 OK »)."),
        "LPS-IMAP-14": ("failed", "Le serveur a accepté un jeton révoqué."),
        "LPS-SMTP-13": ("error", "Délai dépassé : le serveur SMTP n'a pas répondu en 10 s."),
        "LPS-CERT-01": ("not_applicable", "paramètre absent : --client-cert/--client-key",
                        ("client_cert",)),
    })
