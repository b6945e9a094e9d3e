"""The outcome core: what a check raises when it is not carried out, and what it needs.

Plain exceptions and pure functions of the catalog and the target: no pytest, no probe, no
network. The plugin maps these exceptions (and the probes' own) to outcomes; the secrets
registry lives in ``secret_registry``, a check's evidence in ``evidence``.
"""

from __future__ import annotations

from mssante_conformance.catalog import FAMILIES, Check


class NotApplicable(Exception):
    """The check was not run: ``not_applicable``.

    Two kinds, which the verdict treats differently: given a list of catalog needs, a
    parameter is *missing* (``missing`` names them; the run cannot be ``conforme`` for a scope
    that includes the check); given a sentence, the check does not apply *by the operator's
    design* (e.g. no STARTTLS endpoint exposed: nothing to test in clear; ``missing`` is empty).
    """

    def __init__(self, missing: list[str] | tuple[str, ...] | str):
        if isinstance(missing, str):
            message, self.missing = missing, ()
        else:
            self.missing = tuple(missing)
            message = "paramètre absent : " + ", ".join(NEED_LABELS.get(m, m) for m in missing)
        super().__init__(message)
        self.msg = message


class CheckNotCarriedOut(Exception):
    """Raised by a check when it could not be carried out for a reason outside the operator
    under test's conformity (e.g. the harness could not mint a token): outcome ``error``."""


# Catalog `needs` → French label for the not_applicable reason.
NEED_LABELS = {
    "bal": "--bal (BAL à tester)",
    "idnat": "--idnat (IDNAT du titulaire)",
    "other_idnat": "--other-idnat (IDNAT d'un non-titulaire)",
    "client_cert": "--client-cert/--client-key (certificat ORG AUTH_CLI)",
    "mx": "--operator-mx (MX de l'opérateur)",
    "sink": "puits MX du harnais (--sink-listen, joignable par l'opérateur)",
    "expired_client": "--expired-client-cert/--expired-client-key (certificat AUTH_CLI expiré)",
    "trust_anchors": "--trust-anchors (AC de l'IGC Santé, PEM)",
    "imap": "--operator-url imap:// ou imaps://",
    "smtp": "--operator-url smtp:// ou smtps://",
    "lps": "--operator-url (au moins un point d'accès API LPS)",
}

def missing_needs(check: Check, target) -> list[str]:
    """The needs of ``check`` that ``target`` does not satisfy (empty: the check can run).

    ``bouchon_trusted`` is an assumption, not a parameter: a check that needs it explains,
    when it fails, that the operator may not be pointed at this bouchon.
    """
    have = {
        "bal": bool(target.bal),
        "idnat": bool(target.idnat),
        "other_idnat": bool(target.other_idnat),
        "client_cert": bool(target.client_cert and target.client_key),
        "mx": target.mx is not None,
        "sink": target.sink_available,
        "trust_anchors": getattr(target, "trust_anchors", None) is not None,
        "expired_client": getattr(target, "expired_client", None) is not None,
        "bouchon_trusted": True,
        "imap": bool(target.imap),
        "smtp": bool(target.smtp),
        "lps": bool(target.imap or target.smtp),
    }
    wanted = set(check.needs)
    endpoint_kind = FAMILIES[check.family].endpoint
    if check.family == "OPI-OUT" and getattr(target, "outbound_mode", "auto") == "manual":
        # the operator's own system sends the message: no API LPS submission is needed
        endpoint_kind = None
        wanted -= {"idnat", "bouchon_trusted"}
    if endpoint_kind:
        wanted.add(endpoint_kind)
    return sorted(n for n in wanted if not have.get(n, False))
