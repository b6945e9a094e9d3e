"""Values that checks produce and the report consumes.

A check never renders anything: it yields a :class:`CheckResult` (outcome, one-sentence
reason in French, evidence). The report turns results into verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a non-conformity, with the catalog severity
    ERROR = "error"  # could not be carried out: never counted as pass or fail
    NOT_APPLICABLE = "not_applicable"  # a parameter it needs was not given, or not by design
    DECLARATIVE = "declarative"  # listed for the operator's commitment, never "passed"


class Severity(StrEnum):
    MINEURE = "mineure"
    MAJEURE = "majeure"
    BLOQUANTE = "bloquante"


SEVERITY_RANK = {Severity.MINEURE: 1, Severity.MAJEURE: 2, Severity.BLOQUANTE: 3}


class Verdict(StrEnum):
    CONFORME = "conforme"
    NON_CONFORME_MAJEURE = "non_conforme_majeure"
    NON_CONFORME_BLOQUANTE = "non_conforme_bloquante"
    INCOMPLET = "incomplet"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``reason``: one sentence in French saying why (what the server answered, or why the
    check could not run). ``evidence``: JSON-ready facts and transcripts, with every token
    already replaced by its fingerprint. ``missing``: for ``not_applicable`` only, the catalog
    needs (``"mx"``, ``"client_cert"``…) whose absence kept the check from running; empty when
    the check does not apply by the operator's design (then it does not hold the verdict back).
    """

    id: str
    outcome: Outcome
    reason: str = ""
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
