"""French wording of the report's values, shared by every renderer."""

from __future__ import annotations

from mssante_conformance.catalog import FAMILIES

VERDICT_LABELS = {
    "conforme": "Conforme",
    "non_conforme_majeure": "Non conforme (majeure)",
    "non_conforme_bloquante": "Non conforme (bloquante)",
    "incomplet": "Incomplet",
}
VERDICT_EXPLANATIONS = {
    "conforme": "Aucune non-conformité constatée, ou des non-conformités mineures seulement.",
    "non_conforme_majeure": "Au moins une non-conformité majeure a été constatée.",
    "non_conforme_bloquante": "Au moins une non-conformité bloquante a été constatée.",
    "incomplet": "Des contrôles du périmètre n'ont pas été menés (erreur ou paramètre absent) : "
                 "le passage ne peut pas conclure à la conformité pour ce périmètre.",
}
OUTCOME_LABELS = {
    "passed": "Réussi",
    "failed": "Échec",
    "error": "Erreur",
    "not_applicable": "Non applicable",
    "declarative": "Déclaratif",
    None: "Non exécuté",
}
SEVERITY_LABELS = {"mineure": "Mineure", "majeure": "Majeure", "bloquante": "Bloquante"}
REQUIREMENT_STATUS_LABELS = {
    "conforme": "Conforme",
    "non_conforme": "Non conforme",
    "incomplet": "Incomplet",
    "non_evalue": "Non évalué",
}
FAMILY_LABELS = {f.id: f.title for f in FAMILIES.values()}
DIRECTION_LABELS = {"C": "C:", "S": "S:", "note": "--", "*": "--", "TLS": "TLS"}
TLS_TRANSITION_LABELS = {
    "during": "pendant la période de mise en conformité (TLS 1.0/1.1 acceptés : mineure)",
    "after": "après la période de mise en conformité (TLS 1.0/1.1 acceptés : bloquante)",
}
DEADLINE_STATUS_LABELS = {"proposition": "proposé", "definitif": "définitif"}


def deadlines_heading(deadlines) -> str:
    """The title of the deadlines table: proposed ones are never shown as the contract's."""
    if deadlines and all(d.get("status") == "definitif" for d in deadlines):
        return "Délais du contrat opérateur"
    return "Délais proposés (contrat opérateur, en concertation)"


def deadlines_note(deadlines) -> str:
    """Where the deadlines come from, and what a proposition is worth (French)."""
    sources = list(dict.fromkeys(str(d.get("source", "")) for d in deadlines if d.get("source")))
    note = f"Source : {' ; '.join(sources)}." if sources else ""
    if any(d.get("status") != "definitif" for d in deadlines):
        note += (" Valeurs proposées, soumises à la concertation du contrat opérateur et du "
                 "Référentiel #1 v1.5 : ce ne sont pas des délais arrêtés. Les valeurs "
                 "définitives se règlent dans le catalogue, sans changer le harnais.")
    return note.strip()
