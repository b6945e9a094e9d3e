"""What a check gathers: transcripts of its exchanges and named facts, redacted when read.

The transcript type is given (``transcript_factory(secrets=…, title=…)``, in practice
``mail.transcript.Transcript``), so this module does not depend on the probes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mssante_conformance.secret_registry import SecretRegistry


class Evidence:
    """Transcripts and facts a check gathers; serialised with every secret redacted."""

    def __init__(self, secrets: SecretRegistry, transcript_factory: Callable[..., Any]) -> None:
        self.secrets = secrets
        self._new_transcript = transcript_factory
        self._transcripts: list[Any] = []
        self._facts: dict[str, Any] = {}

    def transcript(self, label: str):
        """A new transcript of one exchange, attached to this check's evidence."""
        transcript = self._new_transcript(secrets=list(self.secrets), title=label)
        self._transcripts.append(transcript)
        return transcript

    @property
    def transcripts(self) -> list:
        """The transcripts gathered so far (live list; concurrency.py hands them to a check)."""
        return self._transcripts

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
