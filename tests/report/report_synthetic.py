"""Synthetic check results for the report's own tests (imported by conftest and tests)."""

from __future__ import annotations

from mssante_conformance.outcomes import CheckResult, Outcome

META = {
    "parameters": {"operator_url": ["imaps://imap.op.test:993"], "bal": "jean.dupont@op.test",
                   "idnat": "899700366240", "admin_secret": "sha256:0123456789ab"},
    "command": ["mssante-conformance", "run", "--operator-url", "imaps://imap.op.test:993",
                "--bal", "jean.dupont@op.test", "--idnat", "899700366240"],
    "started_at": "2026-11-03T09:12:00+00:00",
    "finished_at": "2026-11-03T09:14:31+00:00",
    "bouchon": {"issuer": "http://127.0.0.1:5123/auth/realms/esante-wallet", "mode": "embedded"},
    "profile": "full",
    "targets": {"imap": "imaps://imap.op.test:993", "smtp": "smtps://smtp.op.test:465"},
}

TRANSCRIPT = {
    "endpoint": "imaps://imap.op.test:993",
    "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384",
            "peer": {"subject": "CN=imap.op.test", "not_after": "2027-01-01"}},
    "lines": [
        {"t": 0.004, "dir": "S", "line": "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] prêt"},
        {"t": 0.011, "dir": "C", "line": "a1 AUTHENTICATE XOAUTH2 <jeton sha256:3f2a9c01be77>"},
        {"t": 0.052, "dir": "S", "line": "a1 OK Logged in <script>alert(1)</script>"},
        {"t": None, "dir": "note", "line": "variante de jeton : expired"},
    ],
}


def result(check_id, outcome, reason="", evidence=None, missing=()):
    return CheckResult(check_id, Outcome(outcome), reason, 0.25, evidence or {}, tuple(missing))


def passing(catalog, except_ids=(), scope="complet"):
    """A passing result for every check of ``scope`` except ``except_ids``."""
    from mssante_conformance.scope import SCOPES

    return [result(c.id, "passed", "Le serveur a répondu comme attendu.")
            for c in catalog.checks.values()
            if c.id not in except_ids and SCOPES[scope].covers(c.family)]


