"""Starting and stopping Dovecot and Postfix: ports, readiness, clear errors, no leftovers.

Every process is started in its own session (its own process group) so that a Ctrl-C in a
terminal reaches only the harness, which then stops them in order; teardown signals each
process we started by its pid (and, as a last resort, its own process group).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class ReferenceError(RuntimeError):
    """The reference operator could not start or stop; the message names the cause (French)."""


def require_binaries(*names: str) -> dict[str, str]:
    found = {}
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
        if not path:
            raise ReferenceError(
                f"programme introuvable: {name} (installer dovecot-core dovecot-imapd "
                "dovecot-submissiond dovecot-lmtpd postfix, voir scripts/bootstrap)")
        found[name] = path
    return found


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ReferenceError(f"port déjà utilisé: {host}:{port} ({what})") from None
            raise ReferenceError(f"impossible d'écouter sur {host}:{port} ({what}): {exc}") from None


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(process: subprocess.Popen | None, addresses: list[tuple[str, int]],
                   what: str, log_tail, timeout: float = START_TIMEOUT_S) -> None:
    """Wait until every address accepts connections; fail fast if ``process`` exits."""
    deadline = time.monotonic() + timeout
    pending = list(addresses)
    while pending:
        if process is not None and process.poll() is not None:
            raise ReferenceError(
                f"{what} s'est arrêté au démarrage (code {process.returncode}):\n{log_tail()}")
        pending = [a for a in pending if not is_listening(*a)]
        if not pending:
            return
        if time.monotonic() > deadline:
            missing = ", ".join(f"{h}:{p}" for h, p in pending)
            raise ReferenceError(f"{what} n'écoute pas sur {missing} après {timeout:.0f} s:\n{log_tail()}")
        time.sleep(0.02)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text("utf-8", "replace").splitlines()
    except OSError:
        return "(pas de journal)"
    return "\n".join(text[-lines:]) or "(journal vide)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def terminate(pids: list[int], timeout: float = STOP_TIMEOUT_S,
              children: list[subprocess.Popen] = ()) -> list[int]:
    """SIGTERM every pid, wait, SIGKILL what is left. Returns pids still alive (should be [])."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            child.poll()  # reap our own children so they do not linger as zombies
        alive = [p for p in pids if pid_alive(p)]
        if not alive:
            return []
        time.sleep(0.02)
    for pid in alive:
        try:
            os.killpg(pid, signal.SIGKILL)  # each was started as its own session leader
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.1)
    for child in children:
        child.poll()
    return [p for p in pids if pid_alive(p)]
