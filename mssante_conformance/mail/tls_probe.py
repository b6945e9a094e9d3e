"""The fast path of :mod:`.tls_scan`, built on sslyze's internals: version probes, weak-suite
tests, a STARTTLS-aware connectivity test, and the fallbacks to sslyze's public path.

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

sslyze's connectivity test runs once per server (:func:`_connectivity`, which also avoids its
network-timeout wait on a STARTTLS server asking an optional client certificate); the
certificate and the versions left to enumerate then go through sslyze's own job machinery
(:func:`_fast_scan`). :func:`_full_scan` is sslyze's public Scanner, every version enumerated.

What this relies on in sslyze (written against 6.x) and nassl, none of it public API:

- ``sslyze.scanner._mass_scanner`` (``MassScannerProducerThread``,
  ``NoMoreServerScanRequestsSentinel``), to hand sslyze's job machinery a server whose
  connectivity is already known: missing → :func:`_fast_scan` is :func:`_full_scan` (sslyze's
  Scanner, its own connectivity test, every version enumerated);
- ``sslyze.server_connectivity``'s private steps (``_detect_support_for_tls_1_3``,
  ``_detect_support_for_tls_1_2_or_below``, ``_TlsVersionNotSupported``,
  ``_detect_client_auth_requirement_with_tls_1_2_or_below``, ``_detect_ecdh_support``): missing →
  :func:`_connectivity` is sslyze's ``check_connectivity_to_server`` (with its timeout wait);
- ``CipherSuitesRepository``, ``WorkaroundForTls12ForCipherSuites.requires_legacy_openssl``,
  ``ServerConnectivityInfo.get_preconfigured_tls_connection``, nassl's ``SslClient`` and
  ``_nassl.OpenSSLError`` (the probes), ``connect_with_cipher_suite`` /
  ``CipherSuiteAcceptedByServer`` / ``NoCiphersAvailableBugInSSlyze`` (the weak-suite tests):
  any of them missing or failing → the version concerned (or, if the weak suites cannot be
  listed, every version) goes to sslyze's full enumeration;
- ``SslConnection`` and ``_HANDSHAKE_REJECTED_TLS_ERRORS`` of
  ``sslyze.connection_helpers.tls_connection`` (:func:`_client_auth_tls13`, only for a server
  asking a client certificate in TLS 1.3): no fallback; a missing name or an unexpected error
  there drops that endpoint from the fast path's results (:func:`.tls_scan.scan_endpoints` then
  gives it ``error``, as for an endpoint its time limit cut).

sslyze and nassl are imported inside the functions (they are heavy): importing this module
never fails.
"""

from __future__ import annotations

import dataclasses
import functools
import queue
import threading

from .classify import weak_suite_reasons

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


def _full_scan(requests: list, concurrency: int):
    """sslyze's Scanner: every requested version enumerated suite by suite."""
    import sslyze

    scanner = sslyze.Scanner(concurrent_server_scans_limit=max(1, concurrency), per_server_concurrent_connections_limit=5)
    scanner.queue_scans(requests)
    yield from scanner.get_results()


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
