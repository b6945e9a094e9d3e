"""What a check needs around it: secrets registry, evidence, outcome classification, needs.

Pure logic, no pytest hooks (the plugin wires these in), no network.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mssante_conformance.catalog import Check
from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.outcomes import Outcome

REASON_MAX = 300


class NotApplicable(pytest.skip.Exception):
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
        super().__init__(msg=message, allow_module_level=False)


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

# Which endpoint kind each family of checks needs besides its catalog `needs`.
FAMILY_ENDPOINTS = {
    "LPS-IMAP": "imap",
    "LPS-SMTP": "smtp",
    "LPS-TLS": "lps",
    "LPS-CERT": "imap",
    "OPI-IN": None,
    "OPI-OUT": "smtp",
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
    endpoint_kind = FAMILY_ENDPOINTS.get(check.family)
    if check.family == "OPI-OUT" and getattr(target, "outbound_mode", "auto") == "manual":
        # the operator's own system sends the message: no API LPS submission is needed
        endpoint_kind = None
        wanted -= {"idnat", "bouchon_trusted"}
    if endpoint_kind:
        wanted.add(endpoint_kind)
    return sorted(n for n in wanted if not have.get(n, False))


class SecretRegistry:
    """Every token and secret of a run, and the forms in which they could leak.

    A JWT can appear raw, inside an XOAUTH2/OAUTHBEARER payload (base64 of a string that
    embeds it), or as a fragment; we keep the raw value and the base64 forms of the SASL
    strings built with it, and :meth:`redact` replaces any of them by a fingerprint.
    """

    def __init__(self) -> None:
        self._forms: dict[str, str] = {}

    def add(self, secret: str, *derived: str) -> str:
        """Register a secret (and derived strings, e.g. base64 SASL payloads); returns its
        fingerprint."""
        fp = fingerprint(secret)
        if len(secret) >= 8:
            self._forms[secret] = fp
        for d in derived:
            if d and len(d) >= 8:
                self._forms[d] = fp
        return fp

    def add_sasl_payload(self, payload: str | bytes, secret: str) -> None:
        """Register the base64 form of a SASL payload that embeds ``secret``."""
        if isinstance(payload, bytes):
            payload = payload.decode("ascii", "replace")
        self._forms[payload] = fingerprint(secret)

    def __iter__(self):
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)

    def redact(self, text: str) -> str:
        # Longest first, so a base64 payload is replaced before the token inside it would be.
        for form in sorted(self._forms, key=len, reverse=True):
            if form in text:
                text = text.replace(form, f"<jeton {self._forms[form]}>")
        return text

    def redact_json(self, value: Any) -> Any:
        """A JSON-ready value with every registered secret replaced."""
        return json.loads(self.redact(json.dumps(value, ensure_ascii=False)))

    def leaks(self, text: str) -> list[str]:
        """Fingerprints of the registered secrets still present in ``text``."""
        return sorted({fp for form, fp in self._forms.items() if form in text})


def xoauth2_b64_forms(user: str, token: str) -> list[str]:
    """The base64 strings that carry ``token`` in XOAUTH2/OAUTHBEARER exchanges for ``user``."""
    raw = [
        f"user={user}\x01auth=Bearer {token}\x01\x01",
        f"n,a={user},\x01auth=Bearer {token}\x01\x01",
    ]
    return [base64.b64encode(r.encode()).decode() for r in raw]


class Evidence:
    """Transcripts and facts a check gathers; serialised with every secret redacted."""

    def __init__(self, secrets: SecretRegistry) -> None:
        self.secrets = secrets
        self._transcripts: list[Any] = []
        self._facts: dict[str, Any] = {}

    def transcript(self, label: str):
        """A new transcript of one exchange, attached to this check's evidence."""
        from mssante_conformance.mail.transcript import Transcript

        transcript = Transcript(secrets=list(self.secrets), title=label)
        self._transcripts.append(transcript)
        return transcript

    def adopt_transcript(self, transcript) -> None:
        """Attach a transcript made ahead of the check (concurrency.py) as if made here."""
        self._transcripts.append(transcript)

    def fact(self, key: str, value: Any) -> None:
        self._facts[key] = value

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self._transcripts:
            data["transcripts"] = [t.to_dict() for t in self._transcripts]
        if self._facts:
            data["facts"] = self._facts
        return self.secrets.redact_json(data)


def _one_line(text: str) -> str:
    line = " ".join(str(text).strip().splitlines()[0].split()) if str(text).strip() else ""
    return line[:REASON_MAX]


def classify_exception(exc: BaseException, when: str) -> tuple[Outcome, str]:
    """Outcome and one-line reason for an exception raised by a check in phase ``when``.

    An assertion in the check body is a non-conformity; anything else means the check could
    not be carried out (``error``), and says why.
    """
    from mssante_conformance.mail.errors import ProbeError

    if isinstance(exc, pytest.skip.Exception):
        return Outcome.NOT_APPLICABLE, _one_line(getattr(exc, "msg", "") or "non applicable")
    if when == "call" and isinstance(exc, (AssertionError, pytest.fail.Exception)):
        message = getattr(exc, "msg", None) or str(exc)
        return Outcome.FAILED, _one_line(message) or "assertion non satisfaite"
    if isinstance(exc, ProbeError):
        step = f" (étape {exc.step})" if exc.step else ""
        return Outcome.ERROR, _one_line(f"contrôle non mené{step} : {exc}")
    if isinstance(exc, CheckNotCarriedOut):
        return Outcome.ERROR, _one_line(f"contrôle non mené : {exc}")
    if isinstance(exc, (TimeoutError, OSError)):
        return Outcome.ERROR, _one_line(f"contrôle non mené : erreur réseau : {exc}")
    phase = {"setup": "préparation", "call": "exécution", "teardown": "clôture"}.get(when, when)
    return Outcome.ERROR, _one_line(
        f"défaut du harnais pendant la {phase} : {type(exc).__name__}: {exc}"
    )
