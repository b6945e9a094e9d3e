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
    ``declarative`` never counts. ``not_applicable`` comes in two kinds, told apart by the
    check's ``missing`` list (the parameters whose absence kept it from running):

    * *not run for lack of a parameter* (``missing`` not empty, e.g. no ``--operator-mx``):
      the check was meant to run and did not. It holds the verdict back from ``conforme``.
    * *not applicable by the operator's design* (``missing`` empty, e.g. a STARTTLS-only
      check when the operator exposes implicit TLS only: nothing is offered in clear, so there
      is nothing to test). It never counts.

The declared scope
    A verdict speaks for the report's ``scope`` (its catalog ``families``), intersected with
    the ``profile`` (``monitoring`` keeps the checks flagged monitoring). ``conforme``
    requires every automated check of that set to have run: a check of it that was not run
    for lack of a parameter, or that has no result at all (listed in ``not_run``: left out of
    the test selection, run interrupted), makes the run ``incomplet``. Checks outside the
    scope or the profile never count. :func:`not_run_in_scope` lists the former, with the
    parameters that would run them.

The overall verdict is the first row of :data:`VERDICT_RULES` whose condition holds. The
auditor's reading behind the order:

* A blocking non-conformity that was observed is a fact: checks that errored elsewhere
  cannot make it go away, so it wins over everything.
* A major non-conformity observed is also a fact, and it already triggers the contractual
  deadlines. Reporting such a run as merely "incomplet" would hide a finding and drop the
  deadlines: an error must never let a run look better than it is. So *majeure* wins over
  *incomplet*; the report still says the run was incomplete (``complete: false``) and that
  the checks in error or not run might hide a blocking one.
* Otherwise any applicable check in ``error`` makes the run ``incomplet``: it can never be
  reported ``conforme``. So does a check of the scope not run, and a run in which no
  applicable check ran at all.
* Otherwise ``conforme``: no failure, or minor ones only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from mssante_conformance.outcomes import Outcome, Severity, Verdict

APPLICABLE = frozenset({Outcome.PASSED, Outcome.FAILED, Outcome.ERROR})
NOT_RUN_REASON = "des contrôles automatisés du périmètre n'ont pas été menés"
REASON_IDS = 12  # check ids named in the verdict's reason; report["not_run_in_scope"] has them all
NOT_EXECUTED = "non exécuté : absent des résultats du passage (sélection des contrôles, interruption)"


@dataclass(frozen=True)
class Tally:
    """What the verdict rules look at: outcome counts, failures by severity, and the number
    of checks of the scope (∩ profile) that did not run."""

    outcomes: Counter
    failures: Counter
    not_run: int = 0

    @property
    def applicable(self) -> int:
        return sum(self.outcomes[o] for o in APPLICABLE)


def _failed_at(severity: Severity) -> Callable[[Tally], bool]:
    return lambda t: t.failures[severity] > 0


# (verdict, condition on the tally, why — in French)
VERDICT_RULES: tuple[tuple[Verdict, Callable[[Tally], bool], str], ...] = (
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
        lambda t: t.outcomes[Outcome.ERROR] > 0,
        "au moins un contrôle applicable n'a pas pu être mené (erreur)",
    ),
    (
        Verdict.INCOMPLET,
        lambda t: t.applicable == 0,
        "aucun contrôle applicable n'a été mené",
    ),
    (
        Verdict.INCOMPLET,
        lambda t: t.not_run > 0,
        NOT_RUN_REASON,
    ),
    (
        Verdict.CONFORME,
        lambda t: True,
        "aucune non-conformité, ou des non-conformités mineures seulement",
    ),
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


def in_scope(check: Mapping, families: Iterable[str], profile: str) -> bool:
    """Whether a catalog check belongs to the scope's families ∩ the profile."""
    return check["family"] in set(families) and (profile != "monitoring" or bool(check.get("monitoring")))


def not_run_in_scope(checks: Iterable[Mapping], not_run: Iterable[Mapping],
                     families: Iterable[str], profile: str) -> list[dict]:
    """The checks of the scope (∩ profile) that did not run, in catalog order of the inputs:
    ``not_applicable`` for lack of a parameter (``missing`` says which, with the flag that
    would run it), then those without a result at all (``missing`` empty)."""
    families = list(families)
    out = []
    for c in checks:
        if c["outcome"] == Outcome.NOT_APPLICABLE and c.get("missing") and in_scope(c, families, profile):
            out.append({"id": c["id"], "title": c["title"], "severity": c["severity"],
                        "missing": [dict(m) for m in c["missing"]], "reason": c["reason"]})
    for c in not_run:
        if in_scope(c, families, profile):
            out.append({"id": c["id"], "title": c["title"], "severity": c["severity"],
                        "missing": [], "reason": NOT_EXECUTED})
    return out


def missing_parameters(unrun: Iterable[Mapping]) -> list[str]:
    """The parameters that would run the checks of ``unrun``, each once, in first-seen order."""
    seen: dict[str, None] = {}
    for c in unrun:
        seen.update(dict.fromkeys(m["parameter"] for m in c["missing"]))
    return list(seen)


def overall_verdict(checks: Iterable[Mapping], not_run: Iterable[Mapping] = (),
                    deadlines: Iterable[Mapping] = ()) -> dict:
    """The run's verdict: ``{"level", "reason", "complete", "deadlines"}``.

    ``not_run``: the checks of the scope that did not run (:func:`not_run_in_scope`);
    ``deadlines``: the contract deadlines of the catalog, stated when the run is non-conforme.
    """
    checks, not_run = list(checks), list(not_run)
    tally = Tally(
        outcomes=Counter(Outcome(c["outcome"]) for c in checks),
        failures=Counter(Severity(c["severity"]) for c in checks if c["outcome"] == Outcome.FAILED),
        not_run=len(not_run),
    )
    for verdict, condition, why in VERDICT_RULES:
        if condition(tally):
            break
    errors = tally.outcomes[Outcome.ERROR]
    complete = errors == 0 and not not_run and tally.applicable > 0
    if not_run:
        params = missing_parameters(not_run)
        ids = [c["id"] for c in not_run]
        shown = ", ".join(ids[:REASON_IDS]) + (f" et {len(ids) - REASON_IDS} autre(s)"
                                               if len(ids) > REASON_IDS else "")
        note = f"{len(ids)} contrôle(s) du périmètre non mené(s) : {shown}"
        note += f" ; paramètre(s) à fournir : {', '.join(params)}" if params else ""
        why += f" ({note})" if why == NOT_RUN_REASON else f" ; {note}"
    if verdict in NON_CONFORME and not complete and (errors or not_run):
        why += (" ; les contrôles en erreur ou non menés pourraient révéler une non-conformité "
                "plus grave")
    return {
        "level": verdict.value,
        "reason": why,
        "complete": complete,
        "deadlines": [dict(d) for d in deadlines] if verdict in NON_CONFORME else [],
    }


def requirement_status(checks: Iterable[Mapping]) -> dict:
    """Roll-up of one requirement from the checks that evidence it."""
    checks = list(checks)
    applicable = [c for c in checks if c["outcome"] in APPLICABLE]
    failed = [c for c in applicable if c["outcome"] == Outcome.FAILED]
    errored = [c for c in applicable if c["outcome"] == Outcome.ERROR]
    lacking = [c for c in checks if c["outcome"] == Outcome.NOT_APPLICABLE and c.get("missing")]
    worst = None
    if failed:
        status = REQ_NON_CONFORME
        worst = max((Severity(c["severity"]) for c in failed), key=_rank).value
    elif errored or lacking:
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
        "not_run": [c["id"] for c in lacking],
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
