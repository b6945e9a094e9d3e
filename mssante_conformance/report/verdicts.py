"""From check outcomes to requirement statuses and the overall verdict (pure logic, no I/O).

Theory of operation
-------------------
The inputs are the checks of one run as they appear in ``report.json``: each has an
``outcome`` (passed, failed, error, not_applicable, declarative) and the ``severity`` the
catalog gives it *if it fails* (already resolved for the TLS transition setting). Everything
here works on those plain dicts, so that ``verify`` can recompute the verdict from a report
file alone, without the catalog that produced it.

Which outcomes count
    ``passed``, ``failed`` and ``error`` are *applicable*: the check was meant to run.
    ``not_applicable`` (a parameter it needs was not given) and ``declarative`` never count.
    A catalog check absent from the results is *not run*: it is listed in the report but does
    not change the verdict (the results decide; the caller chose the profile).

The overall verdict is the first row of :data:`VERDICT_RULES` whose condition holds. The
auditor's reading behind the order:

* A blocking non-conformity that was observed is a fact: checks that errored elsewhere
  cannot make it go away, so it wins over everything.
* A major non-conformity observed is also a fact, and it already triggers the contractual
  deadlines. Reporting such a run as merely "incomplet" would hide a finding and drop the
  deadlines: an error must never let a run look better than it is. So *majeure* wins over
  *incomplet*; the report still says the run was incomplete (``complete: false``) and that
  the errored checks might hide a blocking one.
* Otherwise any applicable check in ``error`` makes the run ``incomplet``: it can never be
  reported ``conforme``. So does a run in which no applicable check ran at all.
* Otherwise ``conforme``: no failure, or minor ones only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from mssante_conformance.outcomes import Outcome, Severity, Verdict

APPLICABLE = frozenset({Outcome.PASSED, Outcome.FAILED, Outcome.ERROR})


def _failed_at(severity: Severity) -> Callable[[Counter, Counter], bool]:
    return lambda outcomes, failures: failures[severity] > 0


# (verdict, condition on (outcome counts, failure counts by severity), why — in French)
VERDICT_RULES: tuple[tuple[Verdict, Callable[[Counter, Counter], bool], str], ...] = (
    (
        Verdict.NON_CONFORME_BLOQUANTE,
        _failed_at(Severity.BLOQUANTE),
        "au moins une non-conformité bloquante constatée",
    ),
    (
        Verdict.NON_CONFORME_MAJEURE,
        _failed_at(Severity.MAJEURE),
        "au moins une non-conformité majeure constatée, aucune bloquante",
    ),
    (
        Verdict.INCOMPLET,
        lambda outcomes, failures: outcomes[Outcome.ERROR] > 0,
        "au moins un contrôle applicable n'a pas pu être mené (erreur)",
    ),
    (
        Verdict.INCOMPLET,
        lambda outcomes, failures: sum(outcomes[o] for o in APPLICABLE) == 0,
        "aucun contrôle applicable n'a été mené",
    ),
    (
        Verdict.CONFORME,
        lambda outcomes, failures: True,
        "aucune non-conformité, ou des non-conformités mineures seulement",
    ),
)

# Contract deadlines when a run is non-conforme (seed, "sanctions"; DOMAIN.md).
DEADLINES: tuple[dict[str, str], ...] = (
    {"step": "T0", "duration": "6 semaines", "from": "constat de non-conformité",
     "to": "plan de remédiation"},
    {"step": "T1", "duration": "6 mois", "from": "plan de remédiation", "to": "mise en conformité"},
    {"step": "T2", "duration": "2 mois", "from": "mise en demeure", "to": "sanction 1"},
    {"step": "T3", "duration": "2 mois", "from": "sanction 1", "to": "sanction 2"},
    {"step": "T4", "duration": "2 mois", "from": "sanction 2", "to": "sanction 3"},
)
NON_CONFORME = frozenset({Verdict.NON_CONFORME_MAJEURE, Verdict.NON_CONFORME_BLOQUANTE})

# Requirement statuses (a requirement is conforme only if all its applicable checks pass).
REQ_CONFORME = "conforme"
REQ_NON_CONFORME = "non_conforme"
REQ_INCOMPLET = "incomplet"
REQ_NON_EVALUE = "non_evalue"


def count_outcomes(checks: Iterable[Mapping]) -> dict:
    """Counts by outcome and, for failures, by severity (every key present, zeros included)."""
    outcomes: Counter = Counter()
    failures: Counter = Counter()
    for check in checks:
        outcome = Outcome(check["outcome"])
        outcomes[outcome] += 1
        if outcome is Outcome.FAILED:
            failures[Severity(check["severity"])] += 1
    return {
        "outcomes": {o.value: outcomes[o] for o in Outcome},
        "failures_by_severity": {s.value: failures[s] for s in Severity},
        "applicable": sum(outcomes[o] for o in APPLICABLE),
    }


def overall_verdict(checks: Iterable[Mapping]) -> dict:
    """The run's verdict: ``{"level", "reason", "complete", "deadlines"}``."""
    checks = list(checks)
    outcomes = Counter(Outcome(c["outcome"]) for c in checks)
    failures = Counter(
        Severity(c["severity"]) for c in checks if c["outcome"] == Outcome.FAILED
    )
    for verdict, condition, why in VERDICT_RULES:
        if condition(outcomes, failures):
            break
    complete = outcomes[Outcome.ERROR] == 0 and sum(outcomes[o] for o in APPLICABLE) > 0
    if verdict in NON_CONFORME and not complete:
        why += (
            f" ; {outcomes[Outcome.ERROR]} contrôle(s) en erreur pourrai(en)t révéler "
            "une non-conformité plus grave"
        )
    return {
        "level": verdict.value,
        "reason": why,
        "complete": complete,
        "deadlines": [dict(d) for d in DEADLINES] if verdict in NON_CONFORME else [],
    }


def requirement_status(checks: Iterable[Mapping]) -> dict:
    """Roll-up of one requirement from the checks that evidence it."""
    checks = list(checks)
    applicable = [c for c in checks if c["outcome"] in APPLICABLE]
    failed = [c for c in applicable if c["outcome"] == Outcome.FAILED]
    errored = [c for c in applicable if c["outcome"] == Outcome.ERROR]
    worst = None
    if failed:
        status = REQ_NON_CONFORME
        worst = max((Severity(c["severity"]) for c in failed), key=_rank).value
    elif errored:
        status = REQ_INCOMPLET
    elif applicable:
        status = REQ_CONFORME
    else:
        status = REQ_NON_EVALUE
    return {
        "status": status,
        "worst_severity": worst,
        "checks": [c["id"] for c in checks],
        "passed": sum(c["outcome"] == Outcome.PASSED for c in checks),
        "failed": [c["id"] for c in failed],
        "errors": [c["id"] for c in errored],
    }


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def requirements_rollup(checks: Iterable[Mapping], requirements: Iterable[Mapping]) -> list[dict]:
    """One entry per requirement (``{"id", "title", "source"}``, in that order) with its status."""
    checks = list(checks)
    rollup = []
    for req in requirements:
        own = [c for c in checks if req["id"] in c["requirements"]]
        rollup.append(
            {"id": req["id"], "title": req["title"], "source": req["source"],
             **requirement_status(own)}
        )
    return rollup
