"""Transcripts: timestamped client/server lines, TLS parameters, notes — redacted on entry.

Redaction happens in :meth:`Transcript._add`, *before* a line is stored, so nothing kept
in memory (and therefore nothing in evidence) ever holds a token. What is replaced by
``<jeton sha256:…>`` (the fingerprint of the secret, so it matches ``MintedToken.fingerprint``):

1. every secret registered on the transcript (``Transcript(secrets=[…])``, :meth:`add_secret`);
2. every base64 word that decodes to text holding a registered secret, a ``Bearer`` token
   or a JWT — the SASL forms (XOAUTH2, OAUTHBEARER, PLAIN) whatever the user name;
3. safety nets: ``auth=Bearer <x>`` / ``Bearer <x>``, and JWT-looking strings (``eyJ….…``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from ..fingerprint import fingerprint
from .sasl import b64decode_lenient

_B64_WORD = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BEARER = re.compile(r"(?i)(\bbearer[ =])([^\s\x01\"',;]+)")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")


def placeholder(secret: str) -> str:
    return f"<jeton {fingerprint(secret)}>"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every token form replaced by its fingerprint (pure function)."""
    secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, placeholder(secret))

    def b64_word(match: re.Match[str]) -> str:
        word = match.group(0)
        decoded = b64decode_lenient(word)
        if not decoded:
            return word
        inner = decoded.decode("utf-8", "replace")
        for secret in secrets:
            if secret in inner:
                return placeholder(secret)
        bearer = _BEARER.search(inner)
        if bearer:
            return placeholder(bearer.group(2))
        jwt = _JWT.search(inner)
        if jwt:
            return placeholder(jwt.group(0))
        return word

    text = _B64_WORD.sub(b64_word, text)
    text = _BEARER.sub(lambda m: m.group(1) + (m.group(2) if m.group(2).startswith("<jeton") else placeholder(m.group(2))), text)
    text = _JWT.sub(lambda m: placeholder(m.group(0)), text)
    return text


@dataclass(frozen=True)
class Entry:
    """One transcript entry. ``direction``: ``C`` client, ``S`` server, ``*`` note, ``TLS``."""

    t: float  # seconds since the transcript started
    direction: str
    text: str

    def to_dict(self) -> dict:
        return {"t": round(self.t, 4), "dir": self.direction, "text": self.text}

    def __str__(self) -> str:
        return f"{self.direction}: {self.text}"


class Transcript:
    """Record of one session (or several) with a server; JSON-ready through :meth:`to_dict`.

    >>> tr = Transcript(secrets=[token])
    >>> tr.client("A1 AUTHENTICATE XOAUTH2 …")   # stored redacted
    """

    def __init__(self, secrets: Iterable[str] = (), *, title: str = "") -> None:
        self.title = title
        self.started_at = datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self._secrets: set[str] = {s for s in secrets if s}
        self._entries: list[Entry] = []
        self._tls: list[dict[str, Any]] = []

    # -- secrets
    def add_secret(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    # -- recording
    def _add(self, direction: str, text: str) -> str:
        clean = self.redact(text.rstrip("\r\n"))
        self._entries.append(Entry(time.monotonic() - self._t0, direction, clean))
        return clean

    def client(self, line: str) -> str:
        return self._add("C", line)

    def server(self, line: str) -> str:
        return self._add("S", line)

    def note(self, text: str) -> str:
        return self._add("*", text)

    def tls(self, info: Any) -> None:
        """Record the TLS parameters of a connection (a ``TlsInfo``)."""
        data = info.to_dict() if hasattr(info, "to_dict") else dict(info)
        self._tls.append(data)
        self._add("TLS", info.summary() if hasattr(info, "summary") else str(data))

    # -- reading
    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def lines(self) -> list[str]:
        """``["C: …", "S: …"]`` — handy in assertions and evidence."""
        return [str(e) for e in self._entries]

    def mark(self) -> int:
        """Position to slice from later with :meth:`lines_since`."""
        return len(self._entries)

    def lines_since(self, mark: int) -> tuple[str, ...]:
        return tuple(str(e) for e in self._entries[mark:])

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "started_at": self.started_at.isoformat(timespec="milliseconds"),
            "entries": [e.to_dict() for e in self._entries],
            "tls": list(self._tls),
        }
