"""The Jobs an operator can launch from the console, as data.

A Job names what it tests (catalog families, or the monitoring subset), the declared scope
of its verdict (``--scope``), how the ``run`` command selects its suites (``-k`` on suite
module names, ``--profile``), and which form fields it asks for. Check ids and titles always
come from the catalog.

A Job that runs only part of its scope (API LPS — IMAP, SMTP or TLS alone) can at best be
``incomplet``: the other checks of the scope did not run. The « API LPS » Job runs the whole
scope, for a report that can be ``conforme``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mssante_conformance.catalog import Check, load_catalog
from mssante_conformance.scope import SCOPES

# Form fields, in display order (see forms.py for their labels and parsing).
API_LPS_FIELDS = ("operator_urls", "bal", "idnat", "other_idnat", "ca_file", "tls_transition")
CERT_FIELDS = ("client_cert", "client_key")
OPI_FIELDS = ("operator_mx", "sink_domain", "outbound_mode")


@dataclass(frozen=True)
class Job:
    id: str
    title: str
    summary: str
    families: tuple[str, ...]  # catalog families; empty = all
    selector: str | None  # pytest -k expression over suite module names; None = every suite
    fields: tuple[str, ...]
    scope: str  # the declared scope of the verdict (mssante_conformance.scope)
    monitoring_only: bool = False

    @property
    def scope_label(self) -> str:
        return SCOPES[self.scope].label

    @property
    def partial(self) -> bool:
        """Runs only part of its scope: its verdict can be « incomplet » at best."""
        return bool(self.families) and set(self.families) != set(SCOPES[self.scope].families)

    def checks(self, catalog=None) -> list[Check]:
        catalog = catalog or load_catalog()
        checks = [c for c in catalog.checks.values() if SCOPES[self.scope].covers(c.family)
                  and (not self.families or c.family in self.families)]
        if self.monitoring_only:
            checks = [c for c in checks if c.monitoring]
        return checks

    def run_flags(self) -> list[str]:
        flags = ["--scope", self.scope]
        if self.selector:
            flags += ["-k", self.selector]
        if self.monitoring_only:
            flags += ["--profile", "monitoring"]
        return flags


JOBS: tuple[Job, ...] = (
    Job("api-lps", "API LPS",
        "Toute l'API LPS (IMAP, SMTP, TLS, AUTH_CLI) : le rapport de conformité API LPS demandé "
        "pour le référencement Ségur.",
        (), None, API_LPS_FIELDS + CERT_FIELDS, "api_lps"),
    Job("api-lps-imap", "API LPS — IMAP",
        "Accès IMAP des logiciels de professionnels de santé : TLS, XOAUTH2 avec le jeton PSC "
        "(cas passants et non passants), SASL-IR, et authentification par certificat ORG AUTH_CLI.",
        ("LPS-IMAP", "LPS-CERT"), "test_imap.py or test_auth_cli.py",
        API_LPS_FIELDS + CERT_FIELDS, "api_lps"),
    Job("api-lps-smtp", "API LPS — SMTP",
        "Soumission SMTP : TLS obligatoire avant AUTH, XOAUTH2 avec le jeton PSC, refus des jetons "
        "invalides, émission au nom de la seule BAL authentifiée.",
        ("LPS-SMTP",), "test_smtp.py", API_LPS_FIELDS, "api_lps"),
    Job("api-lps-tls", "API LPS — TLS",
        "Versions et suites TLS des points d'accès API LPS : TLS 1.2 proposé, TLS 1.0/1.1 et SSL 3 "
        "refusés, pas de suite faible, chaîne de certificats valide.",
        ("LPS-TLS",), "test_tls.py", ("operator_urls", "ca_file", "tls_transition"), "api_lps"),
    Job("interface-operateurs", "Interface opérateurs",
        "Échanges MTA à MTA dans l'espace de confiance de test : réception par le MX de l'opérateur "
        "(TLS mutuel, certificats IGC Santé) et émission vers le domaine de test du harnais.",
        ("OPI-IN", "OPI-OUT"), "test_inbound.py or test_outbound.py",
        OPI_FIELDS + ("ca_file", "tls_transition"), "operator_interface"),
    Job("complet", "Complet",
        "Tous les contrôles automatisés du catalogue : API LPS (IMAP, SMTP, TLS, AUTH_CLI) et "
        "interface opérateurs.",
        (), None, API_LPS_FIELDS + CERT_FIELDS + OPI_FIELDS, "complet"),
    Job("monitoring", "Monitoring",
        "Le sous-ensemble sans coopération de l'opérateur (TLS, STARTTLS, refus des jetons "
        "forgés, expirés ou non signés, certificats MTA non reconnus), sûr en production.",
        (), None, API_LPS_FIELDS + ("operator_mx",), "complet", monitoring_only=True),
)

JOBS_BY_ID = {job.id: job for job in JOBS}
