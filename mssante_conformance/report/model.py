"""Assemble ``report.json`` (a plain dict) from run metadata, check results and the catalog.

The dict is the source of truth: every renderer (HTML, PDF, Markdown, JUnit) and ``verify``
read only it. Derived members (``requirements``, ``counts``, ``verdict``…) are computed by
:func:`derive`, which ``verify`` calls again on the stored checks to detect a verdict that
does not follow from them.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Iterable, Mapping

from mssante_conformance import __version__
from mssante_conformance.catalog import TLS_TRANSITIONS, Catalog
from mssante_conformance.outcomes import CheckResult, Outcome
from mssante_conformance.report import verdicts
from mssante_conformance.report.integrity import seal
from mssante_conformance.scope import DEFAULT_SCOPE, SCOPES

# Format 2: the verdict is relative to a declared scope, and a check not run for lack of a
# parameter holds it back from "conforme" (format 1 reports do not carry what that needs).
FORMAT = "mssante-conformance/report/2"
META_DEFAULTS = {
    "parameters": {},
    "command": "",
    "started_at": "",
    "finished_at": "",
    "bouchon": {},
    "profile": "full",
    "scope": DEFAULT_SCOPE,
    "targets": {},
}


def jsonable(value):
    """A JSON-ready copy of ``value`` that survives a dump/load round trip unchanged.

    Evidence is meant to be JSON-ready already; this only makes sure a stray tuple, set,
    bytes or NaN cannot break the digest or lose the run (tuples become lists, bytes are
    decoded, anything else becomes its ``str``).
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def report_json_bytes(report: Mapping) -> bytes:
    """The bytes of report.json (indented, UTF-8); the digest does not depend on the layout."""
    return (json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode()


def command_line(command) -> str:
    if isinstance(command, (list, tuple)):
        return shlex.join(str(a) for a in command)
    return str(command or "")


def _evidence(evidence) -> dict:
    if not evidence:
        return {}
    return jsonable(evidence) if isinstance(evidence, Mapping) else {"valeur": jsonable(evidence)}


def _check_entry(result: CheckResult, catalog: Catalog, tls_transition: str) -> dict:
    check = catalog.check(result.id)  # KeyError names the unknown id
    entry = {
        "id": check.id,
        "title": check.title,
        "family": check.family,
        "outcome": Outcome(result.outcome).value,
        "severity": check.severity_for(tls_transition).value,
        "requirements": list(check.requirements),
        "monitoring": check.monitoring,
        "reason": str(result.reason or ""),
        "duration_s": float(result.duration_s) if math.isfinite(result.duration_s) else 0.0,
        "evidence": _evidence(result.evidence),
    }
    if check.severity == "tls_transition":
        entry["severity_rule"] = "tls_transition"
    if entry["outcome"] == Outcome.NOT_APPLICABLE:
        # empty: not applicable by the operator's design; else the parameters that would run it
        entry["missing"] = [{"need": n, "parameter": _need_label(n)} for n in result.missing]
    return entry


def _need_label(need: str) -> str:
    from mssante_conformance.conformance import NEED_LABELS

    return NEED_LABELS.get(need, need)


def derive(report: Mapping) -> dict:
    """The members computed from ``checks``, ``not_run``, ``scope``, ``profile`` (and the
    requirement titles and contract deadlines): roll-up, counts, checks of the scope not run,
    verdict, deadlines."""
    checks = report["checks"]
    not_run = verdicts.not_run_in_scope(checks, report["not_run"], report["scope"]["families"],
                                        report["profile"])
    verdict = verdicts.overall_verdict(checks, not_run, report["contract_deadlines"])
    reqs = [{k: r[k] for k in ("id", "title", "source")} for r in report["requirements"]]
    return {
        "requirements": verdicts.requirements_rollup(checks, reqs),
        "counts": verdicts.count_outcomes(checks),
        "not_run_in_scope": not_run,
        "verdict": verdict["level"],
        "verdict_reason": verdict["reason"],
        "complete": verdict["complete"],
        "deadlines": verdict["deadlines"],
    }


def build_report(
    meta: Mapping,
    results: Iterable[CheckResult],
    catalog: Catalog,
    tls_transition: str = "during",
) -> dict:
    """The report of one run, sealed with its digest (see docs/report.md for every member).

    ``meta["scope"]`` (default ``complet``) is the declared scope: a catalog check without a
    result is listed under ``not_run``, and holds the verdict back from ``conforme`` if it
    belongs to the scope (∩ profile). A result whose id is not in the catalog or outside the
    scope, or two results for one id, is a harness fault and raises ``ValueError``.
    """
    if tls_transition not in TLS_TRANSITIONS:
        raise ValueError(f"tls_transition must be one of {TLS_TRANSITIONS}, not {tls_transition!r}")
    meta = {**META_DEFAULTS, **{k: v for k, v in meta.items() if v is not None}}
    if meta["scope"] not in SCOPES:
        raise ValueError(f"scope must be one of {tuple(SCOPES)}, not {meta['scope']!r}")
    scope = SCOPES[meta["scope"]]
    by_id: dict[str, CheckResult] = {}
    for result in results:
        if result.id not in catalog.checks:
            raise ValueError(f"result for {result.id!r}, which is not in catalog {catalog.version}")
        if not scope.covers(catalog.checks[result.id].family):
            raise ValueError(f"result for {result.id!r}, which is outside scope {scope.id!r}")
        if result.id in by_id:
            raise ValueError(f"two results for check {result.id!r}")
        by_id[result.id] = result
    order = list(catalog.checks)
    checks = [
        _check_entry(by_id[cid], catalog, tls_transition) for cid in order if cid in by_id
    ]
    not_run = [
        {"id": c.id, "title": c.title, "family": c.family,
         "severity": c.severity_for(tls_transition).value, "requirements": list(c.requirements),
         "monitoring": c.monitoring}
        for c in catalog.checks.values() if c.id not in by_id
    ]
    report = {
        "format": FORMAT,
        "harness_version": __version__,
        "catalog_version": catalog.version,
        "referential": catalog.referential,
        "parameters": jsonable(meta["parameters"]),
        "command": jsonable(meta["command"]),
        "command_line": command_line(meta["command"]),
        "started_at": str(meta["started_at"]),
        "finished_at": str(meta["finished_at"]),
        "bouchon": jsonable(meta["bouchon"]),
        "profile": str(meta["profile"]),
        "scope": scope.to_dict(),
        "tls_transition": tls_transition,
        "targets": jsonable(meta["targets"]),
        "checks": checks,
        "not_run": not_run,
        "requirements": [
            {"id": r.id, "title": r.title, "source": r.source} for r in catalog.requirements.values()
        ],
        "declarations": [
            {"id": d.id, "title": d.title, "source": d.source} for d in catalog.declarations
        ],
        "contract_deadlines": [
            {"step": d.step, "duration": d.duration, "description": d.description,
             "status": d.status, "source": d.source} for d in catalog.deadlines
        ],
    }
    extra = {k: v for k, v in meta.items() if k not in META_DEFAULTS}
    if extra:
        report["extra"] = jsonable(extra)
    report.update(derive(report))
    return seal(report)
