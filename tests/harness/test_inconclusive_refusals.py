"""Hostile peers on loopback: a server that answers 4xx, or drops the connection, must never
pass a rejection check. The real suites run through `mssante-conformance run` against small
scripted SMTP/IMAP servers of our own; each rejection check must end `error`, with the reason.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mssante_conformance.pki import TestPKI

RUN_DEADLINE_S = 180
MX_CHECKS = ("OPI-IN-03", "OPI-IN-04", "OPI-IN-05", "OPI-IN-06")
MX_SELECTION = ("mail_without_starttls or without_client_certificate or another_ca "
                "or sender_domain_outside")


class ScriptedSmtp:
    """A threaded SMTP server: EHLO/STARTTLS as an MX does, then ``behaviour`` decides what
    happens at MAIL FROM: ``"greylist"`` (451 4.7.1 every time), ``"drop"`` (close)."""

    def __init__(self, behaviour: str, context: ssl.SSLContext) -> None:
        self.behaviour, self.context = behaviour, context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sessions = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.sessions += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        stream = conn
        try:
            stream.sendall(b"220 mx.hostile.test ESMTP\r\n")
            reader = stream.makefile("rb")
            while True:
                line = reader.readline()
                if not line:
                    return
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb in (b"EHLO", b"HELO"):
                    tls = isinstance(stream, ssl.SSLSocket)
                    stream.sendall(b"250-mx.hostile.test\r\n" + (b"" if tls else b"250-STARTTLS\r\n") + b"250 8BITMIME\r\n")
                elif verb == b"STARTTLS":
                    stream.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                    stream = self.context.wrap_socket(conn, server_side=True)
                    reader = stream.makefile("rb")
                elif verb == b"MAIL":
                    if self.behaviour == "drop":
                        return
                    stream.sendall(b"451 4.7.1 Greylisted, try again later\r\n")
                elif verb in (b"RSET", b"NOOP"):
                    stream.sendall(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    stream.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    stream.sendall(b"503 5.5.1 Bad sequence\r\n")
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server_context(tmp_path_factory) -> ssl.SSLContext:
    pki = TestPKI.ensure(tmp_path_factory.mktemp("pki"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.harness_sink.cert), str(pki.harness_sink.key))
    context.verify_mode = ssl.CERT_NONE  # whatever the MTA presents, the answer comes at MAIL FROM
    return context


def run(report_dir: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "run", "--report-dir",
                           str(report_dir), *args], capture_output=True, text=True, timeout=RUN_DEADLINE_S)
    path = report_dir / "report.json"
    assert path.is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("behaviour, said", [("greylist", "4xx"), ("drop", "connexion coupée")])
def test_an_mx_that_answers_4xx_or_drops_never_passes_a_rejection_check(behaviour, said, server_context, tmp_path):
    mx = ScriptedSmtp(behaviour, server_context)
    try:
        report = run(tmp_path, "--operator-mx", f"smtp://127.0.0.1:{mx.port}", "--profile", "monitoring",
                     "-k", MX_SELECTION)
    finally:
        mx.close()
    got = {c["id"]: c for c in report["checks"] if c["id"] in MX_CHECKS}
    assert set(got) == set(MX_CHECKS), sorted(got)
    for check_id, check in got.items():
        print(f"{behaviour} {check_id}: {check['outcome']} — {check['reason']}")
        assert check["outcome"] == "error", (check_id, check["outcome"], check["reason"])
    # OPI-IN-06's control is refused like everything else: the check says so
    assert "témoin en échec" in got["OPI-IN-06"]["reason"] or said in got["OPI-IN-06"]["reason"]
    for check_id in ("OPI-IN-03", "OPI-IN-04", "OPI-IN-05"):
        assert "refus non établi" in got[check_id]["reason"], got[check_id]["reason"]
        assert said in got[check_id]["reason"], got[check_id]["reason"]
    if behaviour == "greylist":  # one retry after a 4xx: both answers are in the evidence
        judged = got["OPI-IN-03"]["evidence"]["facts"][f"smtp://127.0.0.1:{mx.port} / refus attendu"]["jugements"]
        assert [j["answer"] for j in judged] == ["smtp_4xx", "smtp_4xx"], judged
    assert report["verdict"] == "incomplet"


class ScriptedImap(ScriptedSmtp):
    """A threaded implicit-TLS IMAP server that answers ``AUTHENTICATE`` by ``behaviour``:
    ``"drop"`` (closes the connection) or ``"unavailable"`` (``NO [UNAVAILABLE]``, RFC 5530's
    "try again later", every time)."""

    def _session(self, conn: socket.socket) -> None:
        try:
            stream = self.context.wrap_socket(conn, server_side=True)
            stream.settimeout(10)
            stream.sendall(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hostile ready\r\n")
            reader = stream.makefile("rb")
            while True:
                line = reader.readline()
                if not line:
                    return
                tag, _, rest = line.decode("ascii", "replace").strip().partition(" ")
                verb = rest.split(" ", 1)[0].upper()
                if verb == "CAPABILITY":
                    stream.sendall(f"* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\n{tag} OK done\r\n".encode())
                elif verb == "AUTHENTICATE":
                    if self.behaviour == "drop":
                        return
                    stream.sendall(f"{tag} NO [UNAVAILABLE] Temporary authentication failure\r\n".encode())
                elif verb == "LOGOUT":
                    stream.sendall(f"* BYE bye\r\n{tag} OK done\r\n".encode())
                    return
                else:
                    stream.sendall(f"{tag} BAD unknown\r\n".encode())
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()


@pytest.mark.parametrize("behaviour, said", [("drop", "connexion coupée"), ("unavailable", "NO temporaire")])
def test_an_imap_server_that_drops_or_says_unavailable_never_refuses_a_token(behaviour, said, server_context,
                                                                            tmp_path):
    imap = ScriptedImap(behaviour, server_context)
    try:
        report = run(tmp_path, "--operator-url", f"imaps://127.0.0.1:{imap.port}", "--bal", "jean.dupont@hostile.test",
                     "--idnat", "899700366240", "--profile", "monitoring", "-k", "LPS-IMAP-08 or LPS-IMAP-10")
    finally:
        imap.close()
    got = {c["id"]: c for c in report["checks"] if c["id"] in ("LPS-IMAP-08", "LPS-IMAP-10")}
    assert set(got) == {"LPS-IMAP-08", "LPS-IMAP-10"}, sorted(got)
    for check_id, check in got.items():
        print(f"{behaviour} {check_id}: {check['outcome']} — {check['reason']}")
        assert check["outcome"] == "error", (check_id, check["outcome"], check["reason"])
        assert "refus non établi" in check["reason"] and said in check["reason"], check["reason"]
        judged = check["evidence"]["facts"][f"imaps://127.0.0.1:{imap.port} / refus attendu"]["jugements"]
        assert len(judged) == (2 if behaviour == "unavailable" else 1), judged  # one retry, transient only
