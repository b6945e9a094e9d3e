"""Faults and teardown: clear errors naming the cause, no process left behind (checked by pid)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from mssante_conformance.reference import ReferenceOperatorError, ReferenceOperator
from mssante_conformance.reference.processes import pid_alive, require_binaries

pytestmark = pytest.mark.slow

# The servers must fail before any token is checked: a bouchon that does not exist will do.
NO_BOUCHON = SimpleNamespace(
    introspection_endpoint="http://127.0.0.1:9/introspect", jwks_uri="http://127.0.0.1:9/certs",
    issuer="http://127.0.0.1:9/auth/realms/esante-wallet",
    operator_client=SimpleNamespace(client_id="operateur-ref", client_secret="x" * 24))


def _start_expecting_failure(op) -> None:
    """Start; if it unexpectedly succeeds, stop at once so the test never leaks servers."""
    op.start()
    op.stop()


def test_missing_binary_is_named():
    with pytest.raises(ReferenceOperatorError, match="introuvable: dovecot-absent"):
        require_binaries("dovecot-absent")


def test_port_in_use_is_named(tmp_path, test_pki):
    with socket.socket() as busy:
        busy.bind(("127.0.0.2", 0))
        busy.listen()
        port = busy.getsockname()[1]
        op = ReferenceOperator(tmp_path, NO_BOUCHON, ports={"imap": port}, pki=test_pki)
        with pytest.raises(ReferenceOperatorError, match=f"port déjà utilisé: 127.0.0.2:{port}"):
            _start_expecting_failure(op)
    assert op.pids == [] or not [p for p in op.pids if pid_alive(p)]


def test_failed_postfix_start_shows_postfix_error_and_leaves_nothing(tmp_path, test_pki):
    # Postfix refuses an interface it cannot find, and says so only on a terminal's stderr.
    op = ReferenceOperator(tmp_path, NO_BOUCHON, pki=test_pki,
                           postfix_overrides={"inet_interfaces": "127.0.0.3"})
    with pytest.raises(ReferenceOperatorError) as error:
        _start_expecting_failure(op)
    assert "Postfix" in str(error.value)
    assert "no local interface found for 127.0.0.3" in str(error.value)
    assert op._known_pids and not [p for p in op._known_pids if pid_alive(p)]
    assert not op.running


def test_failed_dovecot_start_shows_dovecot_error(tmp_path, test_pki):
    port = socket.create_server(("127.0.0.2", 0))
    shared = port.getsockname()[1]
    port.close()
    op = ReferenceOperator(tmp_path, NO_BOUCHON, ports={"imap": shared, "imaps": shared}, pki=test_pki)
    with pytest.raises(ReferenceOperatorError, match="Dovecot") as error:
        _start_expecting_failure(op)
    assert f"duplicate listener: {shared}" in str(error.value)
    assert not [p for p in op._known_pids if pid_alive(p)]


def test_stop_leaves_no_process(tmp_path, test_pki):
    op = ReferenceOperator(tmp_path, NO_BOUCHON, pki=test_pki).start()
    pids = op.pids
    assert len(pids) >= 4 and all(pid_alive(p) for p in pids)
    assert op.stop() == []
    assert not [p for p in pids if pid_alive(p)]
    assert (tmp_path / "logs" / "dovecot.log").exists()


def test_cli_up_detach_then_down(tmp_path, bouchon):
    env = dict(os.environ, MSSANTE_REFERENCE_CLIENT_ID=bouchon.operator_client.client_id,
               MSSANTE_REFERENCE_CLIENT_SECRET=bouchon.operator_client.client_secret)
    cli = [sys.executable, "-m", "mssante_conformance.cli", "reference"]
    up = subprocess.run(cli + ["up", "--detach", "--workdir", str(tmp_path), "--bouchon-url", bouchon.url],
                        capture_output=True, text=True, timeout=60, env=env)
    assert up.returncode == 0, up.stderr + up.stdout
    assert "imaps://127.0.0.2:" in up.stdout and "jean.dupont@operateur-reference.test" in up.stdout
    assert bouchon.operator_client.client_secret not in up.stdout
    state = json.loads((tmp_path / "reference.json").read_text())
    # helpers of the start (postfix-script, doveconf…) may have exited since the state was written
    pids = [p for p in (state["up_pid"], *state["pids"]) if pid_alive(p)]
    assert state["up_pid"] in pids and len(pids) >= 5, state
    again = subprocess.run(cli + ["up", "--workdir", str(tmp_path), "--bouchon-url", bouchon.url],
                           capture_output=True, text=True, timeout=30, env=env)
    assert again.returncode == 2 and "tourne déjà" in again.stderr
    down = subprocess.run(cli + ["down", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not [p for p in pids if pid_alive(p)]
    assert not (tmp_path / "reference.json").exists()


def test_cli_remote_bouchon_needs_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSSANTE_REFERENCE_")}
    result = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "reference", "up",
                             "--workdir", str(tmp_path), "--bouchon-url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2 and "MSSANTE_REFERENCE_CLIENT_ID" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ SIGKILL
def _start_up(workdir) -> tuple[subprocess.Popen, dict]:
    """`reference up` in the foreground (a subprocess); its state once the servers listen."""
    import time

    proc = subprocess.Popen([sys.executable, "-m", "mssante_conformance.cli", "reference", "up",
                             "--workdir", str(workdir)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    state, deadline = workdir / "reference.json", time.monotonic() + 120
    data = None
    while data is None:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        try:
            data = json.loads(state.read_text())
        except (OSError, ValueError):  # not written yet, or being written
            time.sleep(0.1)
    ports = [int(url.rsplit(":", 1)[1]) for url in data["endpoints"].values()]
    hosts = [url.split("://", 1)[1].rsplit(":", 1)[0] for url in data["endpoints"].values()]
    data["addresses"] = list(zip(hosts, ports))
    return proc, data


def _registry_entry(run_dir_pids: list[int]) -> tuple[object, dict]:
    from mssante_conformance.reference.processes import REGISTRY

    for path in REGISTRY.glob("*.json"):
        entry = json.loads(path.read_text())
        if set(entry["pids"]) & set(run_dir_pids):
            return path, entry
    raise AssertionError(f"no registry entry for {run_dir_pids}")


def _wait_gone(pids: list[int], addresses, seconds: float = 30.0) -> tuple[list[int], list, float]:
    import time

    from mssante_conformance.reference.processes import is_listening

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        alive = [p for p in pids if pid_alive(p)]
        listening = [a for a in addresses if is_listening(*a)]
        if not alive and not listening:
            break
        time.sleep(0.1)
    return alive, listening, time.monotonic() - started


def test_sigkill_of_reference_up_leaves_no_daemon_and_frees_the_ports(tmp_path):
    import signal

    proc, state = _start_up(tmp_path)
    registry_file, entry = _registry_entry(state["pids"])
    run_dir = entry["run_dir"]
    pids = [p for p in state["pids"] if pid_alive(p)]  # some helpers of the start have exited
    assert len(pids) >= 4
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    alive, listening, waited = _wait_gone(pids, state["addresses"])
    print(f"\nafter SIGKILL of `reference up`: daemons gone in {waited:.2f} s")
    assert alive == [] and listening == [], (alive, listening)
    _, _, _ = _wait_gone([entry["watchdog"]], [])
    assert not pid_alive(entry["watchdog"])  # the watchdog did its work and left
    assert not os.path.exists(run_dir)
    assert not registry_file.exists()


def test_stale_instance_is_reaped_by_reference_down(tmp_path):
    """The watchdog died too (OOM killer): the registry lets the next command stop the daemons."""
    import signal

    proc, state = _start_up(tmp_path / "a")
    registry_file, entry = _registry_entry(state["pids"])
    os.kill(entry["watchdog"], signal.SIGKILL)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    pids = [p for p in state["pids"] if pid_alive(p)]
    assert len(pids) >= 4, "the daemons should have outlived both"
    down = subprocess.run([sys.executable, "-m", "mssante_conformance.cli", "reference", "down",
                           "--workdir", str(tmp_path / "other")], capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert "orphelin arrêté" in down.stderr and entry["run_dir"] in down.stderr
    alive, listening, _ = _wait_gone(pids, state["addresses"], seconds=10)
    assert alive == [] and listening == [], (alive, listening)
    assert not registry_file.exists() and not os.path.exists(entry["run_dir"])
