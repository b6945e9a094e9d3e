"""The `bouchon` and `token` commands: bad flags, a real gunicorn start, a printed token."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import jwt
import pytest
import requests

from mssante_conformance.cli import main

CLI = [sys.executable, "-m", "mssante_conformance.cli"]


def run_main(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's own errors
        return exit_.code


@pytest.mark.parametrize("argv, message", [
    (["bouchon", "--port", "0"], "port invalide"),
    (["bouchon", "--port", "abc"], "invalid int value"),
    (["bouchon", "--public-url", "https://auth.esw.esante.gouv.fr"], "vrai Pro Santé Connect"),
    (["bouchon", "--public-url", "ftp://x"], "URL publique invalide"),
    (["bouchon", "--token-lifetime", "-1"], "durée de vie invalide"),
    (["bouchon", "--admin-secret-file", "/nonexistent/secret"], "illisible"),
    (["bouchon", "--bogus"], "unrecognized arguments"),
    (["bouchon", "--tls-cert", "/nonexistent/cert.pem"], "--tls-cert et --tls-key vont ensemble"),
    (["bouchon", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"], "fichier TLS introuvable"),
    (["token", "valid"], "--idnat"),
    (["token", "bogus", "--idnat", "899700366240"], "invalid choice"),
])
def test_bad_flags_are_one_clear_line(capsys, argv, message):
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_token_command_without_a_known_url(tmp_path, capsys):
    assert run_main(["token", "valid", "--idnat", "899700366240", "--data-dir", str(tmp_path)]) == 2
    assert "URL publique inconnue" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_bouchon_serves_under_gunicorn_and_token_command_matches(tmp_path):
    port = free_port()
    data_dir = tmp_path / "bouchon"
    process = subprocess.Popen(CLI + ["bouchon", "--port", str(port), "--data-dir", str(data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        issuer = f"http://127.0.0.1:{port}/auth/realms/esante-wallet"
        deadline = time.monotonic() + 15
        while True:
            try:
                meta = requests.get(issuer + "/.well-known/wallet-openid-configuration", timeout=1).json()
                break
            except requests.RequestException:
                assert process.poll() is None and time.monotonic() < deadline, "bouchon did not start"
                time.sleep(0.1)
        assert meta["issuer"] == issuer
        done = subprocess.run(CLI + ["token", "valid", "--idnat", "899700366240", "--data-dir",
                                     str(data_dir)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        token = done.stdout.strip()
        assert "empreinte sha256:" in done.stderr and token not in done.stderr
        jwk = jwt.PyJWKClient(meta["jwks_uri"], timeout=5)
        claims = jwt.decode(token, jwk.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                            issuer=issuer, options={"verify_aud": False})
        assert claims["SubjectNameID"] == "899700366240"
        # a second bouchon on the same port: a clear failure, no traceback
        clash = subprocess.run(CLI + ["bouchon", "--port", str(port), "--data-dir", str(data_dir)],
                               capture_output=True, text=True, timeout=30)
        assert clash.returncode == 1 and "impossible d'écouter" in clash.stderr
        assert "Traceback" not in clash.stderr
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    secret = (data_dir / "clients.json").read_text()
    assert "operateur-reference" in out and "mode 0600" in out
    import json
    for client in json.loads(secret).values():
        assert client["secret"] not in out + err


def test_tls_flags_are_checked_before_serving(tmp_path, capsys):
    from mssante_conformance.pki import TestPKI

    pki = TestPKI.ensure(tmp_path / "pki")
    server, other = pki.harness_sink, pki.harness_mta
    argv = ["bouchon", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())]
    # a key that is not the certificate's
    assert run_main(argv + ["--tls-cert", str(server.cert), "--tls-key", str(other.key)]) == 2
    err = capsys.readouterr().err
    assert "certificat TLS inutilisable" in err and "PRIVATE KEY" not in err and "Traceback" not in err
    # a plain-http public URL for a bouchon that speaks TLS
    assert run_main(argv + ["--tls-cert", str(server.cert), "--tls-key", str(server.key),
                            "--public-url", "http://127.0.0.1:8765"]) == 2
    assert "donner une URL https://" in capsys.readouterr().err
