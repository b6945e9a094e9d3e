"""French wording of the report's values, shared by every renderer."""

from __future__ import annotations

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
    "incomplet": "Le passage n'a pas pu être mené à son terme : il ne peut pas conclure "
                 "à la conformité.",
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
FAMILY_LABELS = {
    "LPS-IMAP": "API LPS — IMAP",
    "LPS-SMTP": "API LPS — SMTP (soumission)",
    "LPS-TLS": "API LPS — TLS",
    "LPS-CERT": "API LPS — AUTH_CLI (certificat)",
    "OPI-IN": "Interface opérateurs — entrant",
    "OPI-OUT": "Interface opérateurs — sortant",
}
DIRECTION_LABELS = {"C": "C:", "S": "S:", "note": "--", "*": "--", "TLS": "TLS"}
TLS_TRANSITION_LABELS = {
    "during": "pendant la période de mise en conformité (TLS 1.0/1.1 acceptés : mineure)",
    "after": "après la période de mise en conformité (TLS 1.0/1.1 acceptés : bloquante)",
}
