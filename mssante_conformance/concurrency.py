"""Independent token trials run ahead, concurrently; every check still records and judges its own.

Theory of operation
-------------------
A rejection check (LPS-IMAP-06…14, LPS-SMTP-…) presents a valid token (the control) then a
bad one on each endpoint, and a conformant server answers the bad one only after its failure
delay (1 s at the reference, 2 s by Dovecot's default). One after another, ~25 such checks spend
most of a campaign asleep. None depends on another: each mints its own tokens and opens its own
sessions.

So, when the first check marked ``@pytest.mark.token_trial(protocol)`` is about to run, the
:class:`TrialPrefetcher` plans the exchanges of **every** such check still to run (controls and
bad tokens, per endpoint, exactly as :func:`suites.support.assert_token_refused` would make them)
and runs them at once, at most ``--concurrency`` at a time on each endpoint. Each result is kept
under what identifies the exchange (protocol, endpoint, variant, IDNAT, label). When a check
then calls :meth:`TokenTrial.attempt`, it *takes* the matching result instead of connecting: its
transcript goes into that check's evidence, the probe error (if any) is raised there, and the
check judges and asserts as it always does. Outcomes are therefore those of a sequential run
(``tests/e2e/test_concurrency_reference.py`` compares them check by check); a retry after a
transient answer finds nothing left to take and runs live, as before.

What differs from a sequential run, by design: the bouchon calls attached to an exchange are
those made with *its* token (plus the key-fetches without a token, JWKS/discovery, in its time
window), since other exchanges overlap it in time; and the exchanges happen earlier than the
check that reports them (the report's per-check durations shrink accordingly).

The sslyze scans are not moved: they already run concurrently across endpoints (one
``tls_scans`` fixture), and running them in the background beside the IMAP/SMTP checks was
tried and dropped: under load, sslyze's bursts of handshakes beside LPS-IMAP-16's sessions made
the reference's imaps login stall past the network timeout, tripping the circuit breaker, so the
outcomes were no longer those of a sequential run.

``--concurrency 1`` turns all of this off: every exchange runs inside its check, in order.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

MARKER = "token_trial"
CONTROL_LABEL = "témoin : jeton valide"  # suites.support.control_valid_token's label


@dataclass(frozen=True)
class TrialKey:
    protocol: str
    url: str
    variant: str
    idnat: str | None
    label: str


@dataclass
class TrialResult:
    """One exchange made ahead: what a live :meth:`TokenTrial.attempt` would have produced."""

    minted: object = None
    attempt: object = None
    error: BaseException | None = None
    transcripts: list = field(default_factory=list)
    calls: list = field(default_factory=list)


class TrialPrefetcher:
    def __init__(self, target, concurrency: int) -> None:
        self.target = target
        self.concurrency = concurrency
        self._results: dict[TrialKey, deque] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ planning
    def plan(self, items) -> list[tuple[TrialKey, object, str]]:
        """``(key, endpoint, check id)`` of every exchange the marked ``items`` will make."""
        from mssante_conformance.catalog import load_catalog
        from mssante_conformance.conformance import missing_needs

        target, catalog, planned = self.target, load_catalog(), []
        control = target.profile != "monitoring" and bool(target.bal and target.idnat)
        for item in items:
            marker = item.get_closest_marker(MARKER)
            check = item.get_closest_marker("check")
            if marker is None or check is None:
                continue
            check_id = check.args[0]
            if missing_needs(catalog.check(check_id), target):
                continue  # not applicable: it will touch nothing, neither do we
            protocol = marker.args[0]
            params = getattr(getattr(item, "callspec", None), "params", {})
            variant = params.get("variant", marker.kwargs.get("variant", "valid"))
            idnat = target.other_idnat if marker.kwargs.get("other_professional") else None
            for endpoint in (target.imap if protocol == "imap" else target.smtp):
                if control:
                    planned.append((TrialKey(protocol, endpoint.url, "valid", None, CONTROL_LABEL),
                                    endpoint, check_id))
                planned.append((TrialKey(protocol, endpoint.url, variant, idnat, f"jeton {variant}"),
                                endpoint, check_id))
        return planned

    # ------------------------------------------------------------------ running
    def run(self, planned, *, breaker=None, check_timeout: float = 60.0) -> None:
        """Make every planned exchange, ``concurrency`` at a time per endpoint; blocks."""
        if not planned:
            return
        gates: dict[str, threading.BoundedSemaphore] = {}
        for key, _, _ in planned:
            gates.setdefault(key.url, threading.BoundedSemaphore(self.concurrency))
        # One scout per endpoint goes first, alone: an endpoint found mute or unreachable trips
        # the run's circuit breaker once, and the exchanges queued behind it then end at once
        # instead of opening N more connections to a server that does not answer.
        scouts: dict[str, int] = {}
        for index, (key, _, _) in enumerate(planned):
            scouts.setdefault(key.url, index)
        workers = min(len(planned), self.concurrency * len(gates))
        futures: dict[int, object] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="token-trial") as pool:
            def submit(index):
                key, endpoint, check_id = planned[index]
                futures[index] = pool.submit(self._one, key, endpoint, check_id, gates[key.url],
                                             breaker, check_timeout)
            for index in scouts.values():
                submit(index)
            for index in scouts.values():
                futures[index].exception()  # wait; its outcome is read below, in plan order
            for index in range(len(planned)):
                if index not in futures:
                    submit(index)
            for index, (key, _, _) in enumerate(planned):  # a check takes its results in plan order
                self._results.setdefault(key, deque()).append(futures[index].result())

    def _one(self, key: TrialKey, endpoint, check_id, gate, breaker_, check_timeout) -> TrialResult:
        from mssante_conformance.mail import breaker, deadline
        from mssante_conformance.suites.support import bouchon_calls_since, xoauth2_exchange

        result = TrialResult()
        with gate, breaker.scope(breaker_, check_id), \
                deadline.scope(deadline.Deadline(check_timeout, check_id)):
            try:
                result.minted = self.target.mint(key.variant, idnat=key.idnat)
            except Exception as exc:  # CheckNotCarriedOut: raised again in the check
                result.error = exc
                return result
            since = time.time()
            from mssante_conformance.evidence import Evidence
            from mssante_conformance.mail.transcript import Transcript

            evidence = Evidence(self.target.secrets, Transcript)  # until a check adopts it
            result.transcripts = evidence.transcripts
            try:
                result.attempt = xoauth2_exchange(self.target, evidence, key.protocol, endpoint,
                                                  result.minted.token, key.label)
            except Exception as exc:  # ProbeError or anything else: raised in the owning check
                result.error = exc
                return result
        time.sleep(0.05)  # let the bouchon's call log settle (as TokenTrial does)
        mine = result.minted.fingerprint
        result.calls = [c for c in bouchon_calls_since(self.target, since)
                        if c.get("token_fingerprint") in (None, mine)]
        return result

    def take(self, key: TrialKey) -> TrialResult | None:
        with self._lock:
            queue = self._results.get(key)
            return queue.popleft() if queue else None


# ---------------------------------------------------------------------- the run's prefetcher
_ACTIVE: TrialPrefetcher | None = None


def take(target, protocol: str, endpoint, variant: str, idnat: str | None, label: str) -> TrialResult | None:
    """The exchange made ahead for this trial, if any (None: make it now)."""
    active = _ACTIVE
    if active is None or active.target is not target:
        return None
    return active.take(TrialKey(protocol, endpoint.url, variant, idnat, label))


def replay(result: TrialResult, evidence):
    """Give a check the exchange made ahead: its transcripts join the check's evidence, its
    error is raised here; returns ``(minted, attempt)``."""
    for transcript in result.transcripts:
        evidence.adopt_transcript(transcript)
    if result.error is not None:
        raise result.error
    return result.minted, result.attempt


class PrefetchPlugin:
    """Registered by the harness plugin; runs the prefetch before the first marked check."""

    def __init__(self, settings_key, breaker_key) -> None:
        self._settings_key = settings_key
        self._breaker_key = breaker_key
        self._done = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item):
        global _ACTIVE
        if self._done or item.get_closest_marker(MARKER) is None:
            return
        self._done = True
        settings = item.config.stash[self._settings_key]
        target = item.funcargs.get("target")
        if settings.concurrency <= 1 or target is None:
            return
        from mssante_conformance.mail import deadline

        session_items = item.session.items
        upcoming = session_items[session_items.index(item):]
        prefetcher = TrialPrefetcher(target, settings.concurrency)
        prefetcher.run(prefetcher.plan(upcoming),
                       breaker=item.config.stash.get(self._breaker_key, None),
                       check_timeout=settings.check_timeout)
        _ACTIVE = prefetcher
        running = deadline.current()
        if running is not None:
            running.restart()  # the prefetch is every marked check's time, not this one's

    def pytest_sessionfinish(self, session):
        global _ACTIVE
        _ACTIVE = None
