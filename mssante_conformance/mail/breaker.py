"""Per-endpoint circuit breaker: once an endpoint is unreachable or mute, stop trying it.

Without it, every check of a run waits out its own timeout against a server that accepts
TCP and never speaks (a whole API LPS suite took minutes). The plugin creates one
:class:`CircuitBreaker` per run and makes it current, with the id of the running check,
through :func:`scope`; the probes call :func:`guard` before connecting and :func:`trip` when
the endpoint (``host:port``) refused the connection, could not be reached, or said nothing
(no greeting, no TLS handshake answer on an implicit-TLS port) within the step's timeout.
From then on the endpoint's checks end ``error`` at once, with the first failure's reason.

It trips only when the server said *nothing*: a refusal (``* BYE``, ``554``), garbage or a
broken reply is an answer, and judging it is the check's business. Outside a run (no current
breaker) nothing is remembered.

Separately, it remembers a plaintext endpoint whose greeting was not the expected protocol
(:func:`note_foreign`): the checks still judge each session, but the sslyze scan, which
could only try STARTTLS on it (and may be fed garbage until its time is up), is not run.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from .errors import EndpointUnavailable


@dataclass(frozen=True)
class Trip:
    """Why an endpoint was given up: ``where`` (``host:port`` or URL), ``check_id`` (the
    check that met the failure), ``reason`` (its one-line French reason)."""

    where: str
    check_id: str
    reason: str
    foreign: bool = False  # the endpoint answers, but not in the expected protocol

    def message(self) -> str:
        if self.foreign:
            origin = f" (constaté au contrôle {self.check_id})" if self.check_id else ""
            return f"point d'accès {self.where} : STARTTLS impossible{origin} : {self.reason}"
        origin = f" depuis le contrôle {self.check_id}" if self.check_id else ""
        return f"point d'accès {self.where} injoignable{origin} : {self.reason}"

    def to_dict(self) -> dict:
        return {"endpoint": self.where, "check": self.check_id, "reason": self.reason}


class CircuitBreaker:
    """The endpoints a run gave up on, keyed by ``(host, port)``. Thread-safe."""

    def __init__(self) -> None:
        self._trips: dict[tuple[str, int], Trip] = {}
        self._foreign: dict[tuple[str, int], Trip] = {}
        self._lock = threading.Lock()

    def note_foreign(self, host: str, port: int, where: str, reason: str, check_id: str = "") -> Trip:
        with self._lock:
            return self._foreign.setdefault((host.lower(), int(port)),
                                            Trip(where, check_id, " ".join(reason.split()), foreign=True))

    def foreign(self, host: str, port: int) -> Trip | None:
        with self._lock:
            return self._foreign.get((host.lower(), int(port)))

    def tripped(self, host: str, port: int) -> Trip | None:
        with self._lock:
            return self._trips.get((host.lower(), int(port)))

    def trip(self, host: str, port: int, where: str, reason: str, check_id: str = "") -> Trip:
        """Give up on ``host:port``; the first trip is kept (its reason is the real cause)."""
        key = (host.lower(), int(port))
        with self._lock:
            return self._trips.setdefault(key, Trip(where, check_id, " ".join(reason.split())))

    @property
    def trips(self) -> list[Trip]:
        with self._lock:
            return list(self._trips.values())


_CURRENT: ContextVar[tuple[CircuitBreaker, str] | None] = ContextVar("mssante_breaker", default=None)


@contextlib.contextmanager
def scope(breaker: CircuitBreaker | None, check_id: str = "") -> Iterator[CircuitBreaker | None]:
    """Make ``breaker`` current for the block, on behalf of check ``check_id``."""
    token = _CURRENT.set((breaker, check_id) if breaker is not None else None)
    try:
        yield breaker
    finally:
        _CURRENT.reset(token)


def current() -> CircuitBreaker | None:
    active = _CURRENT.get()
    return active[0] if active else None


def open_trip(host: str, port: int) -> Trip | None:
    """The trip of ``host:port`` in the current run, if it was given up."""
    active = _CURRENT.get()
    return active[0].tripped(host, port) if active else None


def guard(host: str, port: int, step: str = "connect") -> None:
    """Raise :class:`~.errors.EndpointUnavailable` if the run already gave up on ``host:port``."""
    trip = open_trip(host, port)
    if trip is not None:
        raise EndpointUnavailable(trip.message(), step=step)


def trip(host: str, port: int, where: str, reason: str) -> Trip | None:
    """Record that ``host:port`` is unreachable or mute (no-op outside a run)."""
    active = _CURRENT.get()
    if active is None:
        return None
    breaker, check_id = active
    return breaker.trip(host, port, where, reason, check_id)


def note_foreign(host: str, port: int, where: str, reason: str) -> Trip | None:
    """Record that the plaintext endpoint ``host:port`` greets in another protocol."""
    active = _CURRENT.get()
    if active is None:
        return None
    breaker, check_id = active
    return breaker.note_foreign(host, port, where, reason, check_id)


def foreign_note(host: str, port: int) -> Trip | None:
    active = _CURRENT.get()
    return active[0].foreign(host, port) if active else None
