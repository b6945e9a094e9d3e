"""Starting and stopping Dovecot and Postfix: ports, readiness, clear errors, no leftovers.

Every process is started in its own session (its own process group) so that a Ctrl-C in a
terminal reaches only the harness, which then stops them in order; teardown signals each
process we started by its pid (and, as a last resort, its own process group).

Nothing outlives the harness, even killed with SIGKILL (OOM killer, CI timeout), by two means:

* a **lifeline** (:class:`Lifeline`): a small watchdog process, in its own session, that holds
  the read end of a pipe whose write end only the harness holds. The harness tells it, through
  the pipe, every daemon it starts and the instance's runtime directory. When the harness dies,
  however it dies, the kernel closes the write end: the watchdog reads end-of-file, kills the
  daemons' process trees (SIGTERM, then SIGKILL) and removes the runtime directory. A normal
  stop says ``release`` first and the watchdog leaves without touching anything.
* a **registry** of running instances (one JSON file per instance under :data:`REGISTRY`,
  with its owner's pid and start time, and the daemons' pids): :func:`reap_stale` stops the
  daemons of any instance whose owner is gone (in case the watchdog died too). ``run``,
  ``reference up`` and ``reference down`` call it. ``reference up --detach`` keeps its
  daemons: their owner is the background ``reference up`` process, which stays alive.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


class ReferenceOperatorError(RuntimeError):
    """The reference operator could not start or stop; the message names the cause (French)."""


def require_binaries(*names: str) -> dict[str, str]:
    found = {}
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
        if not path:
            raise ReferenceOperatorError(
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
                raise ReferenceOperatorError(f"port déjà utilisé: {host}:{port} ({what})") from None
            raise ReferenceOperatorError(f"impossible d'écouter sur {host}:{port} ({what}): {exc}") from None


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
            raise ReferenceOperatorError(
                f"{what} s'est arrêté au démarrage (code {process.returncode}):\n{log_tail()}")
        pending = [a for a in pending if not is_listening(*a)]
        if not pending:
            return
        if time.monotonic() > deadline:
            missing = ", ".join(f"{h}:{p}" for h, p in pending)
            raise ReferenceOperatorError(f"{what} n'écoute pas sur {missing} après {timeout:.0f} s:\n{log_tail()}")
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


# ------------------------------------------------------------------------------ lifeline
REGISTRY = Path(tempfile.gettempdir()) / "mssante-conformance-instances"
# Words of the command lines of the processes an instance starts (a recorded pid is signalled
# only if it still runs one of these: pids get reused).
DAEMON_WORDS = (b"dovecot", b"postfix", b"master", b"smtpd", b"script", b"qmgr", b"pickup",
                b"tlsmgr", b"anvil", b"imap", b"lmtp", b"submission", b"smtp", b"cleanup", b"trivial-rewrite")


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), to tell a pid from its reuse."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def runs_a_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return any(word in cmdline for word in DAEMON_WORDS)


def descendants(roots: set[int]) -> set[int]:
    """Every live descendant of ``roots`` (from /proc), roots excluded."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent_of[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parent_of.items() if ppid in frontier} - found
        found |= frontier
    return found


def kill_trees(pids: list[int], grace: float = 3.0) -> list[int]:
    """SIGTERM ``pids``, their descendants and their process groups; SIGKILL what is left after
    ``grace`` seconds. Returns the pids still alive."""
    alive = [p for p in pids if pid_alive(p)]
    tree = sorted(set(alive) | descendants(set(alive)))
    groups = set()
    for pid in tree:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(os.getpgid(0))  # never our own group
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            try:
                os.killpg(group, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in tree:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline and any(pid_alive(p) for p in tree):
            time.sleep(0.05)
        if not any(pid_alive(p) for p in tree):
            return []
    return [p for p in tree if pid_alive(p)]


class Lifeline:
    """Ties the daemons of one instance to the life of this process (see the module docstring).

    ``hold(pid)``: kill this process tree if we die; ``release()``: a normal stop, forget all.
    The instance is also written to the registry (:func:`reap_stale`).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.pids: list[int] = []
        read_end, self._write_end = os.pipe()  # both non-inheritable: daemons never get them
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-m", "mssante_conformance.reference.processes", str(read_end)],
                pass_fds=(read_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(read_end)
        self._say(f"dir {self.run_dir}")
        self._registry_file = REGISTRY / f"{self.run_dir.name}.json"
        self._register()

    def _say(self, line: str) -> None:
        if self._write_end is not None:
            try:
                os.write(self._write_end, (line + "\n").encode())
            except OSError:
                pass

    def hold(self, *pids: int) -> None:
        for pid in pids:
            if pid and pid not in self.pids:
                self.pids.append(pid)
                self._say(f"pid {pid}")
        self._register()

    def _register(self) -> None:
        try:
            REGISTRY.mkdir(mode=0o700, exist_ok=True)
            tmp = self._registry_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({
                "owner": os.getpid(), "owner_started": start_time(os.getpid()),
                "watchdog": self.watchdog.pid, "pids": self.pids, "run_dir": str(self.run_dir)}))
            tmp.replace(self._registry_file)
        except OSError:
            pass  # the registry is a second safety net; the watchdog is the first

    def release(self) -> None:
        """The instance was stopped normally: the watchdog leaves without killing anything."""
        self._say("release")
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
        try:
            self.watchdog.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.watchdog.kill()
            self.watchdog.wait()
        self._registry_file.unlink(missing_ok=True)


def reap_stale() -> list[str]:
    """Stop the daemons of every registered instance whose owner process is gone; returns the
    runtime directories of the instances reaped."""
    reaped: list[str] = []
    try:
        files = sorted(REGISTRY.glob("*.json"))
    except OSError:
        return reaped
    for path in files:
        try:
            entry = json.loads(path.read_text())
            owner, started = int(entry["owner"]), entry.get("owner_started")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid_alive(owner) and start_time(owner) == started:
            continue  # its owner still runs it
        pids = [p for p in entry.get("pids", []) if isinstance(p, int) and runs_a_daemon(p)]
        kill_trees(pids)
        run_dir = entry.get("run_dir") or ""
        if Path(run_dir).name.startswith("mssante-ref-"):
            shutil.rmtree(run_dir, ignore_errors=True)
        path.unlink(missing_ok=True)
        reaped.append(run_dir)
    return reaped


def _watch(fd: int) -> None:
    """The watchdog: read orders until ``release`` or end-of-file (the owner died)."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe says when to act
    pids: list[int] = []
    dirs: list[str] = []
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        buffer = b""
        while chunk := pipe.read(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                word, _, value = line.decode("utf-8", "replace").partition(" ")
                if word == "release":
                    return
                if word == "pid" and value.isdigit():
                    pids.append(int(value))
                elif word == "dir" and value:
                    dirs.append(value)
    # End of file without "release": the owner is gone. Its daemons go with it.
    kill_trees(pids)
    for directory in dirs:
        if Path(directory).name.startswith("mssante-ref-"):
            shutil.rmtree(directory, ignore_errors=True)
    for directory in dirs:
        (REGISTRY / f"{Path(directory).name}.json").unlink(missing_ok=True)


if __name__ == "__main__":  # the watchdog process of a Lifeline
    _watch(int(sys.argv[1]))
