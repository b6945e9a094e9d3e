"""SSO session rules (DOMAIN.md, "session"): closed after 15 min of inactivity, 4 h in total."""

from __future__ import annotations

from dataclasses import dataclass

from mssante_conformance.psc.store import SsoSession


@dataclass(frozen=True)
class SessionPolicy:
    idle_s: int = 15 * 60
    max_s: int = 4 * 3600

    def is_alive(self, session: SsoSession | None, now: float) -> bool:
        if session is None or session.ended:
            return False
        return now - session.last_seen < self.idle_s and now - session.created_at < self.max_s
