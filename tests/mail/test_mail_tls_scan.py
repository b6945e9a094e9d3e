"""scan_endpoints (sslyze) against local TLS servers: it tells a TLS 1.2+ server from a weak one."""

import time

import pytest

from mail_peers import ScriptedServer, closed_port, imap_session, server_context
from mssante_conformance.mail.tls import scan_endpoints


@pytest.fixture
def tls_servers(tls_material):
    servers = {
        "modern": ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material)),
        "legacy": ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material, legacy=True)),
        "starttls": ScriptedServer(imap_session(server_context(tls_material))),
    }
    yield servers
    for server in servers.values():
        server.close()


def test_scan_tells_modern_from_legacy_concurrently(tls_servers, tls_material):
    urls = [
        f"imaps://127.0.0.1:{tls_servers['modern'].port}",
        f"imaps://127.0.0.1:{tls_servers['legacy'].port}",
        f"imap://127.0.0.1:{tls_servers['starttls'].port}",
        f"imaps://127.0.0.1:{closed_port()}",
    ]
    modern, legacy, starttls, down = scan_endpoints(urls, ca_file=tls_material.ca_file, timeout=3)

    assert modern.versions == {"ssl3": False, "tls1_0": False, "tls1_1": False, "tls1_2": True, "tls1_3": True}
    assert not modern.weak_suites
    assert modern.chain_valid is True and modern.hostname_matched is True
    assert modern.certificate.subject.startswith("CN=localhost")

    assert legacy.accepts("tls1_0") is True and legacy.accepts("tls1_1") is True
    assert legacy.accepts("tls1_2") is True and legacy.accepts("ssl3") is False
    assert legacy.weak_suites and all(reasons for reasons in legacy.weak_suites.values())

    assert starttls.versions["tls1_2"] is True and starttls.versions["tls1_0"] is False  # through IMAP STARTTLS

    assert down.error and "\n" not in down.error and not down.versions
    assert modern.to_dict()["endpoint"] == urls[0]


def test_scan_with_a_foreign_ca_reports_an_invalid_chain(tls_servers, tls_material):
    (result,) = scan_endpoints(
        [f"imaps://127.0.0.1:{tls_servers['modern'].port}"], ca_file=tls_material.foreign_ca_file, versions=("tls1_2",)
    )
    assert result.chain_valid is False and result.chain_error
    assert result.hostname_matched is True and result.versions == {"tls1_2": True}


# ------------------------------------------------------------------ the one-handshake version probe
class HelloGate:
    """A plain TCP front for a real TLS server: reads each ClientHello, counts it by the version
    the client offers, and for the versions in ``policy`` answers itself — ``"drop"``: closes
    without any alert when more than 4 suites are offered (a small hello goes through), ``"alert"``:
    a fatal protocol_version alert. Everything else is relayed to ``backend_port``."""

    VERSIONS = {0x0300: "ssl3", 0x0301: "tls1_0", 0x0302: "tls1_1", 0x0303: "tls1_2+"}

    def __init__(self, backend_port: int, policy: dict[str, str]) -> None:
        import collections
        import socket
        import threading

        self.backend_port, self.policy = backend_port, policy
        self.hellos: collections.Counter = collections.Counter()  # version → ClientHellos seen
        self.large: collections.Counter = collections.Counter()  # version → hellos of > 4 suites
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._threads.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _serve(self, conn) -> None:
        import socket

        conn.settimeout(10)
        try:
            header = self._read(conn, 5)
            record = self._read(conn, int.from_bytes(header[3:5], "big"))
            hello = record[4:]  # handshake type + length, then the ClientHello body
            version = self.VERSIONS.get(int.from_bytes(hello[0:2], "big"), "?")
            session = hello[34]
            suites = int.from_bytes(hello[35 + session:37 + session], "big") // 2
            self.hellos[version] += 1
            self.large[version] += suites > 4
            action = self.policy.get(version)
            if action == "drop" and suites > 4:
                conn.close()  # no alert: as a middlebox choking on a large ClientHello
                return
            if action == "alert":
                conn.sendall(bytes([21, *hello[0:2], 0, 2, 2, 70]))  # fatal protocol_version, in the offered version
                conn.close()
                return
            backend = socket.create_connection(("127.0.0.1", self.backend_port), timeout=10)
            backend.sendall(header + record)
            self._threads.Thread(target=self._pump, args=(backend, conn), daemon=True).start()
            self._pump(conn, backend)
        except (OSError, IndexError):
            conn.close()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(2)
                except OSError:
                    pass


def _verdicts(result):
    return result.versions, result.weak_suites, result.errors, result.error


def assert_same_verdicts(fast, full):
    """What the checks read is identical; the fast ``accepted_suites`` is a part of the full one,
    all of it for an enumerated version."""
    assert [_verdicts(r) for r in fast] == [_verdicts(r) for r in full]
    assert [(r.certificate, r.chain_valid, r.chain_error, r.hostname_matched) for r in fast] == \
        [(r.certificate, r.chain_valid, r.chain_error, r.hostname_matched) for r in full]
    for quick, complete in zip(fast, full):
        assert set(complete.suites_enumerated.values()) <= {"toutes"}
        for version, suites in quick.accepted_suites.items():
            assert set(suites) <= set(complete.accepted_suites[version]), version
            assert bool(suites) == bool(complete.accepted_suites[version]), version
            if quick.suites_enumerated[version] == "toutes":
                assert suites == complete.accepted_suites[version]
            assert set(quick.weak_suites) & set(complete.accepted_suites[version]) <= set(suites)


def test_probe_gives_the_full_enumeration_verdicts(tls_servers, tls_material):
    urls = [f"imaps://127.0.0.1:{tls_servers['modern'].port}", f"imaps://127.0.0.1:{tls_servers['legacy'].port}",
            f"imap://127.0.0.1:{tls_servers['starttls'].port}"]
    fast = scan_endpoints(urls, ca_file=tls_material.ca_file, timeout=3)
    full = scan_endpoints(urls, ca_file=tls_material.ca_file, timeout=3, full=True)
    assert_same_verdicts(fast, full)
    modern, legacy, starttls = fast
    for result in (modern, starttls):
        for version in ("tls1_0", "tls1_1"):
            assert result.decided_by[version].startswith("refus TLS (alerte protocol_version)"), result.decided_by
            assert result.suites_enumerated[version] == "aucune (version refusée)"
        assert result.decided_by["ssl3"].startswith("refus TLS (alerte "), result.decided_by  # OpenSSL 3: handshake_failure
        for version in ("tls1_2", "tls1_3"):
            assert result.decided_by[version].startswith("acceptée à la sonde de version (TLS_"), result.decided_by
            assert result.suites_enumerated[version] == "faibles seulement"
            assert len(result.accepted_suites[version]) == 1  # the negotiated suite: no weak one here
    # the legacy server accepts weak suites in TLS 1.0/1.1/1.2: found one by one, as the enumeration does
    assert legacy.weak_suites and legacy.weak_suites == full[1].weak_suites
    assert legacy.suites_enumerated["tls1_0"] == "faibles seulement"
    assert len(legacy.accepted_suites["tls1_2"]) < len(full[1].accepted_suites["tls1_2"])
    assert modern.to_dict()["versions_decided_by"] == modern.decided_by
    assert modern.to_dict()["suites_enumerated"]["tls1_2"] == "faibles seulement"
    assert set(full[0].decided_by.values()) == {"énumération"}
    assert full[0].to_dict()["suites_enumerated"]["tls1_2"] == "toutes"


def test_a_weak_suite_behind_a_preferred_strong_one_is_found(tls_material):
    """The probe negotiates the server's preferred (strong) suite; the anonymous suite it also
    accepts is found by the per-suite tests."""
    import ssl

    context = server_context(tls_material)
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:AECDH-AES128-SHA:@SECLEVEL=0")
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    server = ScriptedServer(imap_session(None, implicit=True), tls=context)
    try:
        url = [f"imaps://127.0.0.1:{server.port}"]
        (fast,) = scan_endpoints(url, ca_file=tls_material.ca_file, timeout=3, versions=("tls1_2", "tls1_3"))
        (full,) = scan_endpoints(url, ca_file=tls_material.ca_file, timeout=3, versions=("tls1_2", "tls1_3"),
                                 full=True)
    finally:
        server.close()
    assert fast.versions == full.versions == {"tls1_2": True, "tls1_3": False}
    assert fast.decided_by["tls1_2"] == "acceptée à la sonde de version (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)"
    assert set(fast.weak_suites) == {"TLS_ECDH_anon_WITH_AES_128_CBC_SHA"}
    assert fast.weak_suites == full.weak_suites
    assert fast.accepted_suites["tls1_2"] == full.accepted_suites["tls1_2"]  # here both accepted suites
    assert "anonyme (sans authentification)" in fast.weak_suites["TLS_ECDH_anon_WITH_AES_128_CBC_SHA"]


def test_a_server_dropping_a_large_hello_without_alert_is_enumerated(tls_material):
    backend = ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material, legacy=True))
    gate = HelloGate(backend.port, {"tls1_0": "drop"})
    try:
        (result,) = scan_endpoints([f"imaps://127.0.0.1:{gate.port}"], ca_file=tls_material.ca_file, timeout=3,
                                   versions=("tls1_0",))
        (direct,) = scan_endpoints([f"imaps://127.0.0.1:{backend.port}"], ca_file=tls_material.ca_file, timeout=3,
                                   versions=("tls1_0",), full=True)
    finally:
        gate.close()
        backend.close()
    assert result.error is None, result.error
    assert gate.large["tls1_0"] >= 1  # the probe was dropped…
    assert result.decided_by == {"tls1_0": "énumération"}  # …so never taken for a refusal
    assert result.versions == {"tls1_0": True} and result.accepted_suites["tls1_0"]
    assert gate.hellos["tls1_0"] > 50  # one handshake per suite
    assert result.accepted_suites == direct.accepted_suites and result.weak_suites == direct.weak_suites


def test_a_protocol_version_alert_is_a_refusal_after_one_handshake(tls_material):
    backend = ScriptedServer(imap_session(None, implicit=True), tls=server_context(tls_material, legacy=True))
    gate = HelloGate(backend.port, {"tls1_0": "alert", "tls1_1": "alert"})
    try:
        (result,) = scan_endpoints([f"imaps://127.0.0.1:{gate.port}"], ca_file=tls_material.ca_file, timeout=3,
                                   versions=("tls1_0", "tls1_1", "tls1_2"))
    finally:
        gate.close()
        backend.close()
    assert result.error is None, result.error
    assert result.versions == {"tls1_0": False, "tls1_1": False, "tls1_2": True}
    assert result.accepted_suites["tls1_0"] == result.accepted_suites["tls1_1"] == ()
    assert gate.hellos["tls1_0"] == gate.hellos["tls1_1"] == 1
    assert result.decided_by["tls1_0"] == "refus TLS (alerte protocol_version) à la sonde de version"
    assert result.decided_by["tls1_2"].startswith("acceptée à la sonde de version")
    assert result.to_dict()["versions_decided_by"]["tls1_1"] == result.decided_by["tls1_1"]


# ------------------------------------------------------------------ the real reference operator
@pytest.mark.parametrize("profile", ["conformant", "tls_legacy"])
def test_fast_and_full_scans_agree_on_the_reference_operator(profile, tmp_path):
    """Real Dovecot + Postfix (4 LPS endpoints, STARTTLS and implicit, Dovecot asking an optional
    client certificate): the same versions, weak suites and certificate verdicts either way."""
    from mssante_conformance.psc import Bouchon
    from mssante_conformance.reference import ReferenceOperator

    with Bouchon.start(tmp_path / "bouchon", host="127.0.0.1", port=0) as bouchon:
        with ReferenceOperator(tmp_path / "ref-op", bouchon, profile=profile) as op:
            urls = [op.endpoints[k] for k in ("imap", "imaps", "smtp", "smtps")]
            fast = scan_endpoints(urls, ca_file=str(op.ca_file))
            full = scan_endpoints(urls, ca_file=str(op.ca_file), full=True)
    assert not any(r.error or r.errors for r in full), [r.error or r.errors for r in full]
    assert_same_verdicts(fast, full)
    legacy = profile == "tls_legacy"
    for result in fast:
        assert result.versions["tls1_2"] is True and result.versions["tls1_0"] is legacy
        assert result.suites_enumerated["tls1_2"] == "faibles seulement", result.decided_by


# ------------------------------------------------------------------ the connectivity test
@pytest.mark.parametrize("mode", ["optional", "required"])
def test_connectivity_gives_sslyzes_answer_without_waiting_a_timeout(tls_material, mode):
    """A STARTTLS server asking a client certificate in TLS 1.3 (Dovecot's ssl_verify_client_cert):
    sslyze's own test waits a network timeout on it when the certificate is optional; ours gets the
    same answer at once."""
    import ssl

    from sslyze.server_connectivity import ClientAuthRequirementEnum, check_connectivity_to_server

    from mssante_conformance.mail.endpoint import parse_operator_url
    from mssante_conformance.mail.tls_probe import _connectivity
    from mssante_conformance.mail.tls_scan import _request

    context = server_context(tls_material)
    context.load_verify_locations(tls_material.ca_file)
    context.verify_mode = ssl.CERT_OPTIONAL if mode == "optional" else ssl.CERT_REQUIRED
    server = ScriptedServer(imap_session(context))
    try:
        request = _request(parse_operator_url(f"imap://127.0.0.1:{server.port}"), None, 3, ("tls1_2",), False)
        start = time.monotonic()
        ours = _connectivity(request)
        ours_took = time.monotonic() - start
        start = time.monotonic()
        theirs = check_connectivity_to_server(request.server_location, request.network_configuration)
        theirs_took = time.monotonic() - start
    finally:
        server.close()
    assert ours == theirs
    assert ours.client_auth_requirement is getattr(ClientAuthRequirementEnum, mode.upper())
    if mode == "optional":
        assert theirs_took >= 2.5 and ours_took < 1.5, (theirs_took, ours_took)
