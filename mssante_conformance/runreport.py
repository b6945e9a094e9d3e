"""End of a run: results → report.json / report.html (/ report.pdf), with a last leak check."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from mssante_conformance.catalog import load_catalog
from mssante_conformance.secret_registry import SecretRegistry
from mssante_conformance.outcomes import CheckResult
from mssante_conformance.settings import RunSettings


class SecretLeak(RuntimeError):
    """A registered secret survived redaction: the report is not written."""


def write_run_report(
    *,
    settings: RunSettings,
    results: list[CheckResult],
    secrets: SecretRegistry,
    target,
    command: list[str],
    invocation: str,
    started_at: datetime,
    finished_at: datetime,
) -> tuple[dict[str, Path], str]:
    """Build and write the report of a run; returns ``({format: path}, verdict)``."""
    from mssante_conformance.report import build_report, write_report

    bouchon = target.bouchon if target is not None else None
    meta = {
        "parameters": settings.public_parameters(),
        "command": command,
        "invocation": invocation,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": finished_at.isoformat(timespec="seconds"),
        "bouchon": {
            "issuer": getattr(bouchon, "issuer", None),
            "mode": "remote" if settings.bouchon_url else "embedded",
        },
        "profile": settings.profile,
        "scope": settings.scope,
        "targets": target.describe() if target is not None else {"operator_urls": list(settings.operator_urls)},
    }
    report = build_report(meta, results, load_catalog(), tls_transition=settings.tls_transition)
    leaks = secrets.leaks(json.dumps(report, ensure_ascii=False))
    if leaks:  # redaction happens at the source; this is the last line of defence
        raise SecretLeak(f"secrets {', '.join(leaks)} found in the report: not written")
    formats = ("json", "html", "pdf") if settings.pdf else ("json", "html")
    paths = write_report(report, settings.report_dir, formats=formats)
    return paths, report["verdict"]
