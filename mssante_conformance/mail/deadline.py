"""One deadline for a check's whole exchange, on top of each step's own timeout.

A per-read timeout alone does not bound a check: a server that answers every read just in
time (one byte every few seconds, a continuation request after each answer, a reply line
after each command) can hold it for hours. The plugin therefore opens a :class:`Deadline`
around each check (``--check-timeout``) and makes it current through a context variable;
every network step of :mod:`mssante_conformance.mail` (TCP connect, TLS handshake, each
read and write, sslyze scans, the harness MTA) asks :func:`budget` how long it may wait:
its own timeout, cut to what is left of the check. When nothing is left the step raises
:class:`~.errors.CheckDeadlineExceeded` (a :class:`~.errors.ProbeTimeout`), and so does every
later step of the same check: the check ends ``error`` with a French reason.

Outside a check (no current deadline) the steps keep their own timeouts only.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from typing import Iterator

from .errors import CheckDeadlineExceeded

# A step is counted as cut by the check's deadline when this little was left after it.
_SLACK_S = 0.05


class Deadline:
    """A monotonic instant by which a check's whole exchange must be over.

    ``seconds``: the budget it was opened with; ``label``: whose deadline (a check id).
    """

    def __init__(self, seconds: float, label: str = "") -> None:
        if seconds <= 0:
            raise ValueError("a deadline needs a positive budget")
        self.seconds = float(seconds)
        self.label = label
        self.at = time.monotonic() + self.seconds

    def restart(self) -> None:
        """Start the budget again from now (time spent outside the check's exchange, e.g.
        starting the embedded reference operator, is not the check's)."""
        self.at = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def exceeded(self, where: str = "", step: str = "") -> CheckDeadlineExceeded:
        who = f"du contrôle {self.label} " if self.label else "du contrôle "
        peer = f" avec {where}" if where else ""
        return CheckDeadlineExceeded(
            f"délai global {who}({self.seconds:g} s, --check-timeout) écoulé avant la fin de l'échange{peer}",
            step=step,
        )

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Deadline({self.seconds:g}s, {self.label!r}, remaining={self.remaining():.2f})"


_CURRENT: ContextVar[Deadline | None] = ContextVar("mssante_check_deadline", default=None)


def current() -> Deadline | None:
    """The deadline of the check being run, if any."""
    return _CURRENT.get()


@contextlib.contextmanager
def scope(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` current for the block (``None``: no deadline)."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def budget(timeout: float | None, where: str = "", step: str = "") -> float:
    """How long a step may wait: ``timeout`` cut to what is left of the current deadline.

    Raises :class:`~.errors.CheckDeadlineExceeded` when the check has no time left.
    """
    deadline = _CURRENT.get()
    if deadline is None:
        return float(timeout) if timeout is not None else 0.0
    left = deadline.remaining()
    if left <= 0:
        raise deadline.exceeded(where, step)
    return left if timeout is None else min(float(timeout), left)


def raise_if_spent(where: str = "", step: str = "") -> None:
    """After a step timed out: if it was the check's deadline that cut it, say so (the reason
    then names the check's budget, not the step's timeout)."""
    deadline = _CURRENT.get()
    if deadline is not None and deadline.remaining() <= _SLACK_S:
        raise deadline.exceeded(where, step)
