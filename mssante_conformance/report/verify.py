"""``verify``: is a report intact, and does its verdict follow from its checks?"""

from __future__ import annotations

from dataclasses import dataclass, field

from mssante_conformance.report.integrity import digest_matches
from mssante_conformance.report.model import derive
from mssante_conformance.scope import SCOPES

# Derived members recomputed from the checks, with how to name them to an auditor.
DERIVED_LABELS = {
    "verdict": "le verdict",
    "verdict_reason": "le motif du verdict",
    "complete": "l'indicateur de complétude",
    "deadlines": "les délais contractuels",
    "counts": "les décomptes",
    "not_run_in_scope": "la liste des contrôles du périmètre non menés",
    "requirements": "le bilan par exigence",
}


@dataclass(frozen=True)
class Verification:
    intact: bool
    stored_digest: str
    actual_digest: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.intact and not self.problems


def verify_report(report: dict) -> Verification:
    """Recompute the digest and the derived members; list every discrepancy in French."""
    intact, stored, actual = digest_matches(report)
    problems = []
    if not intact:
        problems.append(
            "l'empreinte ne correspond pas : le rapport a été modifié depuis sa production "
            f"(attendue {stored or 'absente'}, calculée {actual})"
        )
    scope = SCOPES.get(report["scope"]["id"])
    if scope is None or scope.to_dict() != report["scope"]:
        problems.append(
            f"le périmètre « {report['scope']['id']} » ne correspond pas à un périmètre connu "
            "du harnais (identifiant, intitulé ou familles de contrôles modifiés)"
        )
    recomputed = derive(report)
    for key, label in DERIVED_LABELS.items():
        if report.get(key) != recomputed[key]:
            shown = (
                f" (enregistré « {report.get(key)} », recalculé « {recomputed[key]} »)"
                if key == "verdict" else ""
            )
            problems.append(f"{label} ne découle pas des résultats des contrôles{shown}")
    return Verification(intact, stored, actual, problems)
