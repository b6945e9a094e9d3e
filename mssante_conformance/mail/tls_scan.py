"""sslyze scans of several endpoints at once: versions, cipher suites, certificate.

sslyze brings its own OpenSSL build, so SSL 3.0 / TLS 1.0 / 1.1 probes work whatever the
system OpenSSL allows. STARTTLS endpoints (``imap://``, ``smtp://``) are scanned through
sslyze's opportunistic TLS support. Results are :class:`TlsScanResult` values, one per
endpoint, in the order given; an endpoint that cannot be scanned carries ``error``.

sslyze enumerates a version's cipher suites with one handshake per suite (121 for SSL 3.0 / TLS
1.0 / 1.1, 158 for TLS 1.2), and an ACCEPTED suite costs a full handshake (a 4096-bit DHE one is
dear). The checks need less: which versions are accepted (LPS-TLS-01..04) and whether a WEAK
suite is (LPS-TLS-05, :func:`.classify.weak_suite_reasons`). So each version is first probed with
ONE handshake offering every suite sslyze would try (one per OpenSSL build it would use):

- it completes → the version is accepted (definite); the negotiated suite is recorded and only
  the version's weak suites (53 of TLS 1.2's 158, 51 of the older versions', none in TLS 1.3) are
  then tried one by one with sslyze's own per-suite test (``connect_with_cipher_suite``, the
  function its enumeration calls), so a weak suite is found exactly as before;
- the server answers with a TLS ``protocol_version`` or ``handshake_failure`` alert to every
  handshake → the version is refused, without enumeration;
- anything else (connection closed or reset without an alert, timeout, an error of a weak-suite
  test…) → sslyze's full per-suite enumeration of that version, as before. A server that drops
  an oversized ClientHello is therefore enumerated, never recorded as refusing.

``accepted_suites`` of a probe-accepted version is thus "the negotiated suite + the weak suites
accepted", not the server's whole list: ``suites_enumerated`` says which (:data:`ALL_SUITES`,
:data:`WEAK_ONLY`, :data:`NO_SUITES`). sslyze's connectivity test runs once per server
(:func:`_connectivity`, which also avoids its network-timeout wait on a STARTTLS server asking an
optional client certificate); the certificate and the versions left to enumerate then go through
sslyze's own job machinery. ``full=True`` keeps the old path (sslyze's Scanner, every version
enumerated), to compare.
"""

from __future__ import annotations

import dataclasses
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

# A scan of every endpoint (hundreds of handshakes) is bounded by this many network timeouts;
# the plugin adds the same to the deadline of the LPS-TLS checks that share it.
SCAN_BUDGET_FACTOR = 12

# our version names → the sslyze scan result attribute
TLS_VERSIONS: dict[str, str] = {
    "ssl3": "ssl_3_0_cipher_suites",
    "tls1_0": "tls_1_0_cipher_suites",
    "tls1_1": "tls_1_1_cipher_suites",
    "tls1_2": "tls_1_2_cipher_suites",
    "tls1_3": "tls_1_3_cipher_suites",
}

# OpenSSL reasons that only a fatal alert RECEIVED from the server produces: the server refused
# every suite offered, or the version itself. Not "Connection was shut down by peer", a reset,
# "wrong version number"… which sslyze also reports as ServerRejectedTlsHandshake.
_REFUSAL_ALERTS = {
    "tlsv1 alert protocol version": "protocol_version",
    "sslv3 alert handshake failure": "handshake_failure",
}
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


def _sslyze_version(name: str):
    from sslyze.server_connectivity import TlsVersionEnum

    return {"ssl3": TlsVersionEnum.SSL_3_0, "tls1_0": TlsVersionEnum.TLS_1_0, "tls1_1": TlsVersionEnum.TLS_1_1,
            "tls1_2": TlsVersionEnum.TLS_1_2, "tls1_3": TlsVersionEnum.TLS_1_3}[name]


@functools.cache
def _probe_offers(name: str) -> tuple[tuple[bool, str], ...]:
    """(legacy OpenSSL?, cipher string) per handshake of the probe of ``name``: together they offer
    exactly the suites sslyze's enumeration tries, each with the OpenSSL build it would use."""
    from sslyze.plugins.openssl_cipher_suites._tls12_workaround import WorkaroundForTls12ForCipherSuites
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository

    version = _sslyze_version(name)
    names = sorted(s.openssl_name for s in CipherSuitesRepository.get_all_cipher_suites(version))
    if name == "tls1_3":
        return ((False, ":".join(names)),)
    if name != "tls1_2":
        return ((True, ":".join(names)),)
    legacy = [n for n in names if WorkaroundForTls12ForCipherSuites.requires_legacy_openssl(n)]
    modern = [n for n in names if n not in legacy]
    return tuple((flag, ":".join(group)) for flag, group in ((False, modern), (True, legacy)) if group)


@functools.cache
def _weak_suites(name: str) -> tuple:
    """sslyze's suites of ``name`` that :func:`weak_suite_reasons` calls weak (by IANA name)."""
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository

    suites = CipherSuitesRepository.get_all_cipher_suites(_sslyze_version(name))
    return tuple(sorted((s for s in suites if weak_suite_reasons(s.name)), key=lambda s: s.name))


def _negotiated(connection, name: str) -> str | None:
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository

    try:
        openssl_name = connection.ssl_client.get_current_cipher_name()
        return CipherSuitesRepository.get_cipher_suite_with_openssl_name(_sslyze_version(name), openssl_name).name
    except Exception:  # noqa: BLE001 - accepted all the same; only the name is missing
        return None


def _probe(server_info, name: str) -> tuple[str, str | None]:
    """One handshake per OpenSSL build offering every suite of ``name``.

    ``("accepted", negotiated suite or None)`` if one completed (or, as in sslyze's per-suite test,
    ended in a client-certificate request or a DH group too weak for sslyze: the server accepted a
    suite); ``("refused", alerts)`` if EVERY handshake ended with a refusal alert from the server;
    else ``("unknown", None)``: the enumeration decides."""
    from nassl import _nassl
    from nassl.ssl_client import ClientCertificateRequested, SslClient
    from sslyze.errors import ServerRejectedTlsHandshake, ServerTlsConfigurationNotSupported

    alerts, unknown = [], False
    for legacy, ciphers in _probe_offers(name):
        try:
            connection = server_info.get_preconfigured_tls_connection(
                override_tls_version=_sslyze_version(name), should_use_legacy_openssl=legacy)
        except Exception:  # noqa: BLE001 - whatever it is, enumeration decides
            unknown = True
            continue
        try:
            if name == "tls1_3" and isinstance(connection.ssl_client, SslClient):
                connection.ssl_client.set_ciphersuites(ciphers)
            else:
                connection.ssl_client.set_cipher_list(ciphers)
            try:
                connection.connect(should_retry_connection=False)
            except (ClientCertificateRequested, ServerTlsConfigurationNotSupported):
                pass  # what connect_with_cipher_suite counts as accepted
            return "accepted", _negotiated(connection, name)
        except ServerRejectedTlsHandshake as exc:
            cause = exc.__context__
            reason = cause.args[0] if isinstance(cause, _nassl.OpenSSLError) and cause.args else ""
            alert = next((a for text, a in _REFUSAL_ALERTS.items() if isinstance(reason, str) and text in reason), None)
            if alert is None:
                unknown = True
            else:
                alerts.append(alert)
        except Exception:  # noqa: BLE001 - timeout, reset, odd error: enumeration decides
            unknown = True
        finally:
            try:
                connection.close()
            except Exception:  # noqa: BLE001
                pass
    if alerts and not unknown:
        return "refused", ", ".join(dict.fromkeys(alerts))
    return "unknown", None


def _weak_test(server_info, name: str, suite) -> bool | None:
    """sslyze's own per-suite test of one suite: accepted?, ``None`` for the "no ciphers available"
    combination sslyze's enumeration skips too. Raises for what would fail sslyze's scan command."""
    from sslyze.connection_helpers.tls_connection import NoCiphersAvailableBugInSSlyze
    from sslyze.plugins.openssl_cipher_suites._test_cipher_suite import (
        CipherSuiteAcceptedByServer,
        connect_with_cipher_suite,
    )

    try:
        outcome = connect_with_cipher_suite(server_info, _sslyze_version(name), suite)
    except NoCiphersAvailableBugInSSlyze:
        return None
    return isinstance(outcome, CipherSuiteAcceptedByServer)


_RAISED = object()


def _decide(server_info, versions: tuple[str, ...], width: int) -> dict[str, tuple]:
    """version → ``("refused", why)`` or ``("accepted", suites, weak, negotiated)`` for what the probes settle;
    the versions left out are enumerated suite by suite."""
    probes = _in_threads(lambda name: _probe(server_info, name), list(versions), width)
    decided: dict[str, tuple] = {}
    accepted: dict[str, str | None] = {}
    for name, probe in zip(versions, probes):
        if probe is None:
            continue
        kind, detail = probe
        if kind == "refused":
            decided[name] = ("refused", f"refus TLS (alerte {detail}) à la sonde de version")
        elif kind == "accepted":
            accepted[name] = detail
    # the weak suites of every accepted version, one handshake each, ``width`` at a time
    jobs = [(name, suite) for name in accepted for suite in _weak_suites(name)]

    def test(job):
        try:
            return _weak_test(server_info, *job)
        except Exception:  # noqa: BLE001 - that version is enumerated instead
            return _RAISED

    outcomes = _in_threads(test, jobs, width)
    failed = {name for (name, _), outcome in zip(jobs, outcomes) if outcome is _RAISED}
    for name, negotiated in accepted.items():
        if name in failed:
            continue
        weak = {suite.name: weak_suite_reasons(suite.name)
                for (version, suite), outcome in zip(jobs, outcomes) if version == name and outcome is True}
        suites = tuple(sorted({*weak, *([negotiated] if negotiated else [])}, reverse=True))
        decided[name] = ("accepted", suites, weak, negotiated)
    return decided


# After a TLS 1.3 handshake in which the server asked for a client certificate, sslyze writes b"A"
# and reads one byte to learn whether the certificate is required (the server then aborts) or
# optional (it goes on). On a STARTTLS connection the greeting is already behind us, so a server
# waiting for a full command line — Dovecot with ssl_verify_client_cert, on imap:// — answers
# nothing and sslyze waits a whole network timeout. A complete, harmless command gets an answer
# at once: the same verdict, without the wait. Implicit TLS keeps sslyze's b"A" (the server's
# greeting answers it).
_CLIENT_AUTH_NUDGE = {"IMAP": b"a1 NOOP\r\n", "SMTP": b"NOOP\r\n"}


def _connectivity(request):
    """sslyze's connectivity test (``check_connectivity_to_server``) of ``request``'s server, step by
    step with sslyze's own functions, except the TLS 1.3 client-certificate step (see above).
    Raises ``ConnectionToServerFailed`` as sslyze does; falls back to sslyze's test when its
    internals are not the expected ones, or when no TLS version is found (its error message)."""
    from sslyze import server_connectivity as sc

    location, config = request.server_location, request.network_configuration
    try:
        steps = (sc._detect_support_for_tls_1_3, sc._detect_support_for_tls_1_2_or_below, sc._TlsVersionNotSupported,
                 sc._detect_client_auth_requirement_with_tls_1_2_or_below, sc._detect_ecdh_support)
    except AttributeError:
        return sc.check_connectivity_to_server(location, config)
    detect_13, detect_12, not_supported, client_auth_12, detect_ecdh = steps
    versions = sc.TlsVersionEnum
    detected = None
    try:
        detected = detect_13(server_location=location, network_config=config)
    except not_supported:
        for version in (versions.TLS_1_2, versions.TLS_1_1, versions.TLS_1_0, versions.SSL_3_0, versions.SSL_2_0):
            try:
                detected = detect_12(server_location=location, network_config=config, tls_version=version)
                break
            except not_supported:
                pass
    if detected is None or detected.tls_version_supported == versions.SSL_2_0:
        return sc.check_connectivity_to_server(location, config)  # raises, with sslyze's words
    client_auth = sc.ClientAuthRequirementEnum.DISABLED
    if detected.server_requested_client_cert:
        if detected.tls_version_supported.value >= versions.TLS_1_3.value:
            client_auth = _client_auth_tls13(location, config)
        else:
            client_auth = client_auth_12(server_location=location, network_config=config,
                                         tls_version=detected.tls_version_supported,
                                         cipher_list=detected.cipher_suite_supported)
    ecdh = "ECDH" in detected.cipher_suite_supported or detect_ecdh(
        server_location=location, network_config=config, tls_version=detected.tls_version_supported)
    return sc.ServerTlsProbingResult(highest_tls_version_supported=detected.tls_version_supported,
                                     cipher_suite_supported=detected.cipher_suite_supported,
                                     client_auth_requirement=client_auth, supports_ecdh_key_exchange=ecdh)


def _client_auth_tls13(location, config):
    """sslyze's ``_detect_client_auth_requirement_with_tls_1_3`` with a complete command written
    on a STARTTLS connection (:data:`_CLIENT_AUTH_NUDGE`) instead of b"A"."""
    import socket

    from nassl import _nassl
    from nassl.ssl_client import ClientCertificateRequested
    from sslyze.connection_helpers.tls_connection import _HANDSHAKE_REJECTED_TLS_ERRORS, SslConnection
    from sslyze.errors import ConnectionToServerFailed, ServerRejectedTlsHandshake
    from sslyze.server_connectivity import ClientAuthRequirementEnum, TlsVersionEnum

    starttls = config.tls_opportunistic_encryption
    nudge = _CLIENT_AUTH_NUDGE.get(starttls.name, b"A") if starttls is not None else b"A"
    connection = SslConnection(server_location=location, network_configuration=config,
                               tls_version=TlsVersionEnum.TLS_1_3, should_ignore_client_auth=True)
    try:
        connection.connect(should_retry_connection=False)
        connection.ssl_client.write(nudge)
        connection.ssl_client.read(1)
        return ClientAuthRequirementEnum.OPTIONAL
    except (ClientCertificateRequested, ServerRejectedTlsHandshake):
        return ClientAuthRequirementEnum.REQUIRED
    except socket.timeout:
        return ClientAuthRequirementEnum.OPTIONAL
    except _nassl.OpenSSLError as exc:
        if any(text in exc.args[0] for text in _HANDSHAKE_REJECTED_TLS_ERRORS):
            return ClientAuthRequirementEnum.REQUIRED
        raise
    except OSError as exc:
        raise ConnectionToServerFailed(server_location=location, network_configuration=config,
                                       error_message=f'Unexpected connection error: "{exc.args}"') from exc
    finally:
        connection.close()


def _fast_scan(requests: list, versions: tuple[str, ...], concurrency: int, decided: dict):
    """Yield one sslyze ``ServerScanResult`` per request: ONE connectivity test per server, then
    :func:`_decide`, then sslyze's own scan machinery for what is left (the certificate and the
    versions to enumerate). ``decided[request.uuid]`` gets :func:`_decide`'s answer."""
    from traceback import TracebackException

    import sslyze
    from sslyze.errors import ConnectionToServerFailed
    from sslyze.server_connectivity import ServerConnectivityInfo

    try:  # sslyze's internals (6.x): without them, its Scanner and the full enumeration
        from sslyze.scanner._mass_scanner import MassScannerProducerThread, NoMoreServerScanRequestsSentinel
    except ImportError:
        yield from _full_scan(requests, concurrency)
        return

    to_scan: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    mass = MassScannerProducerThread(max(1, concurrency), 5, to_scan, results)
    mass.start()

    def one(request) -> None:
        try:
            probing = _connectivity(request)
        except ConnectionToServerFailed as exc:  # as sslyze's Scanner reports it
            results.put(sslyze.ServerScanResult(
                uuid=request.uuid, server_location=request.server_location,
                network_configuration=request.network_configuration,
                connectivity_status=sslyze.ServerConnectivityStatusEnum.ERROR,
                connectivity_error_trace=TracebackException.from_exception(exc), connectivity_result=None,
                scan_status=sslyze.ServerScanStatusEnum.ERROR_NO_CONNECTIVITY, scan_result=None))
            return
        info = ServerConnectivityInfo(request.server_location, request.network_configuration, probing)
        try:
            decided[request.uuid] = found = _decide(info, versions, 5)
        except Exception:  # noqa: BLE001 - everything is enumerated
            found = {}
        drop = {getattr(sslyze.ScanCommand, TLS_VERSIONS[v].upper()) for v in found}
        to_scan.put((dataclasses.replace(request, scan_commands=set(request.scan_commands) - drop), probing))

    def feed() -> None:
        try:
            _in_threads(one, requests, concurrency)
        finally:
            to_scan.put(NoMoreServerScanRequestsSentinel())

    threading.Thread(target=feed, name="mssante-tls-probe", daemon=True).start()
    while not isinstance(item := results.get(), NoMoreServerScanRequestsSentinel):
        results.task_done()
        yield item
    results.task_done()


def _in_threads(function, items: list, width: int) -> list:
    """``[function(item) for item in items]``, ``width`` at a time, in daemon threads (a scan past
    its deadline is abandoned, never waited for); an item whose call raised gives ``None``."""
    results: list = [None] * len(items)
    pending = queue.Queue()
    for index in range(len(items)):
        pending.put(index)

    def run() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = function(items[index])
            except Exception:  # noqa: BLE001 - None: the caller falls back to the full scan
                results[index] = None

    threads = [threading.Thread(target=run, name="mssante-tls-probe", daemon=True)
               for _ in range(max(1, min(width, len(items))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


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


def _full_scan(requests: list, concurrency: int):
    """sslyze's Scanner: every requested version enumerated suite by suite."""
    import sslyze

    scanner = sslyze.Scanner(concurrent_server_scans_limit=max(1, concurrency), per_server_concurrent_connections_limit=5)
    scanner.queue_scans(requests)
    yield from scanner.get_results()


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
