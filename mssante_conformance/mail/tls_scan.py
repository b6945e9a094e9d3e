"""sslyze scans of several endpoints at once: versions, cipher suites, certificate.

sslyze brings its own OpenSSL build, so SSL 3.0 / TLS 1.0 / 1.1 probes work whatever the
system OpenSSL allows. STARTTLS endpoints (``imap://``, ``smtp://``) are scanned through
sslyze's opportunistic TLS support. Results are :class:`TlsScanResult` values, one per
endpoint, in the order given; an endpoint that cannot be scanned carries ``error``.

Each version is first probed with ONE handshake offering every suite sslyze would try: accepted →
only its weak suites are then tested one by one; refused by a TLS alert → done; anything else →
sslyze's full per-suite enumeration, as before. That fast path, built on sslyze's internals, and
its fallbacks when they are missing live in :mod:`.tls_probe`; this module builds the requests,
bounds the scan in time and folds sslyze's results into :class:`TlsScanResult`.

``accepted_suites`` of a probe-accepted version is thus "the negotiated suite + the weak suites
accepted", not the server's whole list: ``suites_enumerated`` says which (:data:`ALL_SUITES`,
:data:`WEAK_ONLY`, :data:`NO_SUITES`). ``full=True`` keeps the old path (sslyze's Scanner, every
version enumerated), to compare.
"""

from __future__ import annotations

import functools
import ipaddress
import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mssante_conformance.resolution import pinned_address

from . import breaker
from . import deadline as check_deadline
from .certificate import CertificateSummary, hostname_matches, summarize_certificate
from .classify import weak_suite_reasons
from .endpoint import Endpoint, parse_operator_url
# TLS_VERSIONS lives beside the sslyze version names it maps to; it is public here as before
from .tls_probe import TLS_VERSIONS, _fast_scan, _full_scan

# A scan of every endpoint (hundreds of handshakes) is bounded by this many network timeouts;
# the plugin adds the same to the deadline of the LPS-TLS checks that share it.
SCAN_BUDGET_FACTOR = 12

ENUMERATED = "énumération"
# what ``accepted_suites`` of a version holds (``suites_enumerated`` in the evidence)
ALL_SUITES = "toutes"  # every suite sslyze knows was tried: the complete list
WEAK_ONLY = "faibles seulement"  # the suite negotiated by the probe + the weak suites accepted
NO_SUITES = "aucune (version refusée)"


@dataclass(frozen=True)
class TlsScanResult:
    """What sslyze found on one endpoint.

    ``versions``: version name → accepted (``None`` = could not be tested);
    ``accepted_suites``: version → IANA suite names; ``weak_suites``: suite → reasons
    (NULL, EXPORT, RC4, DES, 3DES, anonymous, MD5); ``certificate``: the leaf;
    ``chain_valid``: verified against ``ca_file`` (or, without it, any sslyze trust store)
    for the host name; ``chain_error``; ``hostname_matched``; ``error``: why the endpoint
    could not be scanned at all (then everything else is empty).
    """

    endpoint: Endpoint
    versions: dict[str, bool | None] = field(default_factory=dict)
    accepted_suites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weak_suites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    certificate: CertificateSummary | None = None
    chain_valid: bool | None = None
    chain_error: str | None = None
    hostname_matched: bool | None = None
    errors: tuple[str, ...] = ()
    error: str | None = None
    # version → how it was decided: ENUMERATED, or the refusal seen by the one-handshake probe
    decided_by: dict[str, str] = field(default_factory=dict, compare=False)
    # version → ALL_SUITES, WEAK_ONLY or NO_SUITES: how complete ``accepted_suites[version]`` is
    suites_enumerated: dict[str, str] = field(default_factory=dict, compare=False)

    def accepts(self, version: str) -> bool | None:
        return self.versions.get(version)

    def to_dict(self) -> dict:
        return {
            "endpoint": self.endpoint.url,
            "versions": dict(self.versions),
            "accepted_suites": {k: list(v) for k, v in self.accepted_suites.items()},
            "weak_suites": {k: list(v) for k, v in self.weak_suites.items()},
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "chain_valid": self.chain_valid,
            "chain_error": self.chain_error,
            "hostname_matched": self.hostname_matched,
            "errors": list(self.errors),
            "error": self.error,
            "versions_decided_by": dict(self.decided_by),
            "suites_enumerated": dict(self.suites_enumerated),
        }


def _request(endpoint: Endpoint, ca_file: str | None, timeout: float, versions: tuple[str, ...], certificate: bool):
    import sslyze

    starttls = None
    if not endpoint.implicit_tls:
        starttls = (
            sslyze.ProtocolWithOpportunisticTlsEnum.IMAP
            if endpoint.protocol == "imap"
            else sslyze.ProtocolWithOpportunisticTlsEnum.SMTP
        )
    # sslyze resolves names itself unless given the address: give it the pinned one (--resolve)
    pinned = pinned_address(endpoint.host)
    try:
        ipaddress.ip_address(endpoint.host)
        location = sslyze.ServerNetworkLocation(endpoint.host, endpoint.port, ip_address=endpoint.host)
    except ValueError:
        location = sslyze.ServerNetworkLocation(endpoint.host, endpoint.port, ip_address=pinned)
    config = sslyze.ServerNetworkConfiguration(
        tls_server_name_indication=endpoint.host,
        tls_opportunistic_encryption=starttls,
        smtp_ehlo_hostname="conformite.mssante.test" if starttls is sslyze.ProtocolWithOpportunisticTlsEnum.SMTP else None,
        network_timeout=max(1, int(round(timeout))),
        network_max_retries=1,
    )
    commands = {getattr(sslyze.ScanCommand, TLS_VERSIONS[v].upper()) for v in versions}
    extra = sslyze.ScanCommandsExtraArguments()
    if certificate:
        commands.add(sslyze.ScanCommand.CERTIFICATE_INFO)
        if ca_file:
            extra = sslyze.ScanCommandsExtraArguments(
                certificate_info=sslyze.CertificateInfoExtraArgument(custom_ca_file=Path(ca_file))
            )
    return sslyze.ServerScanRequest(
        server_location=location, network_configuration=config, scan_commands=commands, scan_commands_extra_arguments=extra
    )


def _last_line(trace) -> str:
    if trace is None:
        return "erreur inconnue"
    text = "".join(trace.format_exception_only()).strip().splitlines()
    line = text[-1] if text else "erreur inconnue"
    kind, sep, message = line.partition(": ")
    return message if sep and kind.startswith("sslyze.") else line


def _fold(endpoint: Endpoint, result, ca_file: str | None, versions: tuple[str, ...], certificate: bool,
          decided: dict[str, tuple] | None = None) -> TlsScanResult:
    import sslyze

    decided = decided or {}

    if result.scan_status != sslyze.ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        reason = _last_line(result.connectivity_error_trace)
        return TlsScanResult(endpoint, error=f"connexion TLS impossible à {endpoint} : {reason}")
    accepted: dict[str, bool | None] = {}
    suites: dict[str, tuple[str, ...]] = {}
    weak: dict[str, tuple[str, ...]] = {}
    errors: list[str] = []
    decided_by: dict[str, str] = {}
    enumerated: dict[str, str] = {}
    for name in versions:
        settled = decided.get(name)
        if settled is not None and settled[0] == "refused":  # what the enumeration finds for a version refused outright
            accepted[name], suites[name], decided_by[name], enumerated[name] = False, (), settled[1], NO_SUITES
            continue
        if settled is not None:  # accepted at the probe; its weak suites tested one by one
            _, suites[name], found, negotiated = settled
            accepted[name], enumerated[name] = True, WEAK_ONLY
            decided_by[name] = f"acceptée à la sonde de version ({negotiated or 'suite non nommée'})"
            weak.update(found)
            continue
        decided_by[name], enumerated[name] = ENUMERATED, ALL_SUITES
        attempt = getattr(result.scan_result, TLS_VERSIONS[name])
        if attempt.status != sslyze.ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            accepted[name] = None
            errors.append(f"{name} : {_last_line(attempt.error_trace)}")
            continue
        names = tuple(s.cipher_suite.name for s in attempt.result.accepted_cipher_suites)
        accepted[name] = bool(names)
        suites[name] = names
        for suite in names:
            reasons = weak_suite_reasons(suite)
            if reasons:
                weak[suite] = reasons
    cert = chain_valid = chain_error = matched = None
    if certificate:
        attempt = result.scan_result.certificate_info
        if attempt.status != sslyze.ScanCommandAttemptStatusEnum.COMPLETED or attempt.result is None:
            errors.append(f"certificat : {_last_line(attempt.error_trace)}")
        elif attempt.result.certificate_deployments:
            deployment = attempt.result.certificate_deployments[0]
            leaf = deployment.received_certificate_chain[0]
            cert = summarize_certificate(leaf)
            matched = hostname_matches(leaf, endpoint.host)
            results = deployment.path_validation_results
            if ca_file:
                results = [r for r in results if str(r.trust_store.path) == str(Path(ca_file))]
            chain_valid = any(r.was_validation_successful for r in results)
            if not chain_valid:
                chain_error = next((r.validation_error for r in results if r.validation_error), "chaîne non vérifiée")
    return TlsScanResult(endpoint, accepted, suites, weak, cert, chain_valid, chain_error, matched, tuple(errors),
                         decided_by=decided_by, suites_enumerated=enumerated)


def scan_endpoints(
    endpoints: list[Endpoint | str],
    *,
    ca_file: str | None = None,
    timeout: float = 5.0,
    versions: tuple[str, ...] = tuple(TLS_VERSIONS),
    certificate: bool = True,
    concurrency: int = 10,
    max_duration: float | None = None,
    full: bool = False,
) -> list[TlsScanResult]:
    """Scan ``endpoints`` (up to ``concurrency`` at once); one result per endpoint, in order.

    Never raises for what a server does: unreachable or non-TLS endpoints get ``error``.
    Raises :class:`~.errors.EndpointError` for an unparsable URL.

    Bounded in time as a whole: sslyze's own timeouts apply to each socket operation, so a
    server that drips its answers could hold a scan for long; the scan runs in a thread and
    is abandoned after ``max_duration`` (default ``12 × timeout``), cut to what is left of
    the check's deadline (:mod:`.deadline`). Endpoints not scanned by then get ``error``.
    Endpoints the run gave up on (:mod:`.breaker`), and plaintext endpoints whose greeting
    was found not to be IMAP/SMTP (no STARTTLS possible), are not scanned.

    Each version is first probed with one handshake (see the module docstring): accepted → only
    its weak suites are tested; refused by an alert → done; else enumerated suite by suite.
    ``full=True`` enumerates every version (sslyze's Scanner), within the same deadline.
    """
    parsed = [parse_operator_url(e) if isinstance(e, str) else e for e in endpoints]
    by_endpoint: dict[Endpoint, TlsScanResult] = {}
    for endpoint in parsed:
        trip = breaker.open_trip(endpoint.host, endpoint.port)
        if trip is None and not endpoint.implicit_tls:  # its greeting is not IMAP/SMTP: no STARTTLS
            trip = breaker.foreign_note(endpoint.host, endpoint.port)
        if trip is not None:
            by_endpoint[endpoint] = TlsScanResult(endpoint, error=trip.message())
    pending = [e for e in parsed if e not in by_endpoint]
    if pending:
        where = ", ".join(sorted({f"{e.host}:{e.port}" for e in pending}))
        own = max_duration if max_duration is not None else SCAN_BUDGET_FACTOR * timeout
        limit = check_deadline.budget(own, where, "tls_scan")
        cut_by_check = check_deadline.current() is not None and limit >= check_deadline.current().remaining() - 0.05
        requests = list(_request_list(pending, ca_file, timeout, versions, certificate))
        decided: dict = {}  # request uuid → what the probes settled (fast path)
        run = _full_scan if full else functools.partial(_fast_scan, versions=versions, decided=decided)
        for result in _scan_within(requests, concurrency, limit, run):
            found = _find(pending, result)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sslyze's trust stores hold certificates cryptography frowns upon
                by_endpoint[found] = _fold(found, result, ca_file, versions, certificate, decided.get(result.uuid))
        for endpoint in pending:
            if endpoint not in by_endpoint:
                why = (str(check_deadline.current().exceeded(f"{endpoint.host}:{endpoint.port}", "tls_scan"))
                       if cut_by_check else f"délai de {limit:g} s écoulé")
                by_endpoint[endpoint] = TlsScanResult(endpoint, error=f"analyse TLS de {endpoint} interrompue : {why}")
    return [by_endpoint.get(e) or TlsScanResult(e, error=f"{e} non analysé") for e in parsed]


_DONE = object()


def _scan_within(requests: list, concurrency: int, limit: float, run):
    """Yield the sslyze results of ``run(requests, concurrency)`` as they come, for at most ``limit`` s.

    ``run`` goes in a daemon thread (sslyze's own threads are daemons too): a scan still going
    when the time is up is abandoned, never waited for.
    """
    results: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for result in run(requests, concurrency=concurrency):
                    results.put(result)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
            results.put(exc)
        finally:
            results.put(_DONE)

    threading.Thread(target=work, name="mssante-tls-scan", daemon=True).start()
    end = time.monotonic() + limit
    while (left := end - time.monotonic()) > 0:
        try:
            item = results.get(timeout=left)
        except queue.Empty:
            return
        if item is _DONE:
            return
        if isinstance(item, Exception):
            raise item
        yield item


def _request_list(parsed, ca_file, timeout, versions, certificate):
    # one request per distinct endpoint (duplicates share a result)
    seen = set()
    for endpoint in parsed:
        if endpoint in seen:
            continue
        seen.add(endpoint)
        yield _request(endpoint, ca_file, timeout, versions, certificate)


def _find(parsed: list[Endpoint], result) -> Endpoint:
    location = result.server_location
    starttls = result.network_configuration.tls_opportunistic_encryption is not None
    for endpoint in parsed:
        if endpoint.host == location.hostname and endpoint.port == location.port and endpoint.implicit_tls != starttls:
            return endpoint
    return next(e for e in parsed if e.host == location.hostname and e.port == location.port)
