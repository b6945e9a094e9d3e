"""Login throttling of the console: per account and per source address (pure, in memory).

Each wrong password counts against two keys, the account name and the source address. The
``lock_after``-th failure in a row locks the key for ``base_delay_s``, each further one doubles
the lock, capped at ``max_delay_s``. While either key is locked, a
login attempt is refused before the password is even hashed (so a flood costs no scrypt). A
success clears the account's and the address's counts; a key with no failure for ``forget_s``
is forgotten.

What this is not: the state lives in the process (one gunicorn worker = one throttle; a restart
forgets it), and the source address is what the WSGI server reports as ``remote_addr`` (behind
a reverse proxy, configure werkzeug's ProxyFix, or every client is the proxy). Locking an
account by name lets anyone delay its owner's login for a while: the lock is short and capped
on purpose, it never disables the account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(self, *, lock_after: int = 5, base_delay_s: float = 2.0,
                 max_delay_s: float = 15 * 60.0, forget_s: float = 3600.0,
                 max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.lock_after = lock_after
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_s = forget_s
        self.max_keys = max_keys
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(account: str, address: str | None) -> list[tuple[str, str]]:
        return [("account", account.casefold()), ("address", address or "?")]

    def retry_after(self, account: str, address: str | None) -> float:
        """Seconds before a login for ``account`` from ``address`` may be tried (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [r.locked_until - now for k in self._keys(account, address)
                     if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, account: str, address: str | None) -> float:
        """Count a wrong password; returns the lock now in force (seconds, 0 if none)."""
        now = self.clock()
        lock = 0.0
        with self._lock:
            self._prune(now)
            for key in self._keys(account, address):
                record = self._records.setdefault(key, _Record())
                record.failures += 1
                record.last_failure = now
                over = record.failures - self.lock_after
                if over >= 0:
                    delay = min(self.max_delay_s, self.base_delay_s * 2 ** min(over, 30))
                    record.locked_until = max(record.locked_until, now + delay)
                lock = max(lock, record.locked_until - now)
        return lock

    def succeeded(self, account: str, address: str | None) -> None:
        with self._lock:
            for key in self._keys(account, address):
                self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._records) < 1000:
            return
        for key in [k for k, r in self._records.items()
                    if now - r.last_failure > self.forget_s and r.locked_until <= now]:
            del self._records[key]
        if len(self._records) >= self.max_keys:  # a spray from many addresses: oldest go first
            ordered = sorted(self._records.items(),
                             key=lambda item: (item[1].locked_until > now, item[1].last_failure))
            for key, _ in ordered[: len(ordered) // 2]:
                del self._records[key]
