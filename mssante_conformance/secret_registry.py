"""The secrets of a run (tokens, client secrets) and the forms in which they could leak.

Pure: the transcripts and the report call :meth:`SecretRegistry.redact` before anything is
written.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from mssante_conformance.fingerprint import fingerprint


class SecretRegistry:
    """Every token and secret of a run, and the forms in which they could leak.

    A JWT can appear raw, inside an XOAUTH2/OAUTHBEARER payload (base64 of a string that
    embeds it), or as a fragment; we keep the raw value and the base64 forms of the SASL
    strings built with it, and :meth:`redact` replaces any of them by a fingerprint.

    Shared by the threads of ``--concurrency`` (one mints while another redacts): writes hold
    a lock and every read works on a snapshot.
    """

    def __init__(self) -> None:
        self._forms: dict[str, str] = {}
        self._lock = threading.Lock()

    def _snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._forms)

    def add(self, secret: str, *derived: str) -> str:
        """Register a secret (and derived strings, e.g. base64 SASL payloads); returns its
        fingerprint."""
        fp = fingerprint(secret)
        with self._lock:
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
        fp = fingerprint(secret)
        with self._lock:
            self._forms[payload] = fp

    def __iter__(self):
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._forms)

    def redact(self, text: str) -> str:
        forms = self._snapshot()
        # Longest first, so a base64 payload is replaced before the token inside it would be.
        for form in sorted(forms, key=len, reverse=True):
            if form in text:
                text = text.replace(form, f"<jeton {forms[form]}>")
        return text

    def redact_json(self, value: Any) -> Any:
        """A JSON-ready value with every registered secret replaced."""
        return json.loads(self.redact(json.dumps(value, ensure_ascii=False)))

    def leaks(self, text: str) -> list[str]:
        """Fingerprints of the registered secrets still present in ``text``."""
        return sorted({fp for form, fp in self._snapshot().items() if form in text})


def xoauth2_b64_forms(user: str, token: str) -> list[str]:
    """The base64 strings that carry ``token`` in XOAUTH2/OAUTHBEARER exchanges for ``user``."""
    raw = [
        f"user={user}\x01auth=Bearer {token}\x01\x01",
        f"n,a={user},\x01auth=Bearer {token}\x01\x01",
    ]
    return [base64.b64encode(r.encode()).decode() for r in raw]
