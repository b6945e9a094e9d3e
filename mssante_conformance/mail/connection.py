"""TCP connection and line I/O shared by the drivers: every step bounded in time.

Three bounds apply to every read: the step's own timeout (``--network-timeout``) for each
``recv``; a deadline for the whole line (a server that trickles one byte at a time cannot hold
a read beyond ``timeout``) with a maximum line length; and the check's deadline
(:mod:`.deadline`, ``--check-timeout``), which also bounds connects, writes and TLS
handshakes, so a check ends in bounded time whatever the server does.
"""

from __future__ import annotations

import socket
import ssl
import time

from mssante_conformance.resolution import connect_address

from . import deadline as check_deadline
from .endpoint import Endpoint
from .errors import ConnectionFailed, ConnectionLost, ProbeTimeout, ProtocolMismatch, TlsAlert

MAX_LINE = 64 * 1024


def tcp_connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    """Open a TCP connection, mapping every failure to a :class:`ProbeError`."""
    return connect_to(endpoint.host, endpoint.port, timeout)


def connect_to(host: str, port: int, timeout: float) -> socket.socket:
    """``host`` pinned by ``--resolve`` is reached at the pinned address (TLS keeps the name)."""
    where = f"{host}:{port}"
    limit = check_deadline.budget(timeout, where, "connect")
    try:
        return socket.create_connection((connect_address(host), port), timeout=limit)
    except ConnectionRefusedError:
        raise ConnectionFailed(f"connexion refusée par {where}", step="connect") from None
    except socket.gaierror as exc:
        raise ConnectionFailed(f"nom d'hôte {host} introuvable ({exc.strerror})", step="connect") from None
    except (TimeoutError, socket.timeout):
        check_deadline.raise_if_spent(where, "connect")
        raise ProbeTimeout(f"pas de réponse de {where} à la connexion TCP en {timeout:g} s", step="connect") from None
    except OSError as exc:
        raise ConnectionFailed(f"connexion impossible à {where} : {exc.strerror or exc}", step="connect") from None


class LineSocket:
    """CRLF lines and counted bytes over a (TLS or plain) socket, with timeouts.

    ``received``: how many bytes the peer sent so far (0: it has said nothing at all).
    """

    def __init__(self, sock: socket.socket, timeout: float, where: str, *, max_line: int = MAX_LINE) -> None:
        self.sock = sock
        self.timeout = timeout
        self.where = where
        self.max_line = max_line
        self._buffer = b""
        self.closed = False
        self.received = 0

    def replace_socket(self, sock: socket.socket) -> None:
        """After STARTTLS: continue on the TLS socket (bytes buffered before are dropped,
        as RFC 3207/2595 require)."""
        self.sock = sock
        self._buffer = b""

    @property
    def buffered(self) -> bytes:
        """Bytes received but not read yet (e.g. plaintext after ``220 STARTTLS``)."""
        return self._buffer

    def _fill(self, line_deadline: float, step: str) -> None:
        remaining = line_deadline - time.monotonic()
        if remaining <= 0:
            check_deadline.raise_if_spent(self.where, step)
            raise ProbeTimeout(f"{self.where} n'a pas terminé sa réponse en {self.timeout:g} s", step=step)
        self.sock.settimeout(check_deadline.budget(remaining, self.where, step))
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            check_deadline.raise_if_spent(self.where, step)
            if self._buffer:
                raise ProbeTimeout(f"{self.where} n'a pas terminé sa réponse en {self.timeout:g} s", step=step) from None
            raise ProbeTimeout(f"{self.where} n'a rien répondu en {self.timeout:g} s", step=step) from None
        except ssl.SSLError as exc:
            self.closed = True
            raise TlsAlert(f"erreur TLS de {self.where} : {exc.reason or exc}", step=step) from None
        except OSError as exc:
            self.closed = True
            raise ConnectionLost(f"connexion avec {self.where} coupée : {exc.strerror or exc}", step=step) from None
        if not chunk:
            self.closed = True
            raise ConnectionLost(f"{self.where} a fermé la connexion", step=step)
        self.received += len(chunk)
        self._buffer += chunk

    def readline(self, step: str = "command") -> str:
        """One line without CRLF, decoded as UTF-8 (undecodable bytes escaped)."""
        return self.readline_bytes(step).decode("utf-8", "backslashreplace")

    def readline_bytes(self, step: str = "command") -> bytes:
        """One line without CRLF, as bytes."""
        line_deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > self.max_line:
                raise ProtocolMismatch(f"{self.where} envoie une ligne de plus de {self.max_line} octets", step=step)
            self._fill(line_deadline, step)
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > self.max_line:
            raise ProtocolMismatch(f"{self.where} envoie une ligne de plus de {self.max_line} octets", step=step)
        return line.rstrip(b"\r")

    def read_exactly(self, size: int, step: str = "command") -> bytes:
        line_deadline = time.monotonic() + self.timeout
        while len(self._buffer) < size:
            self._fill(line_deadline, step)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def send(self, data: bytes, step: str = "command") -> None:
        self.sock.settimeout(check_deadline.budget(self.timeout, self.where, step))
        try:
            self.sock.sendall(data)
        except (TimeoutError, socket.timeout):
            check_deadline.raise_if_spent(self.where, step)
            raise ProbeTimeout(f"{self.where} n'accepte plus de données (délai {self.timeout:g} s)", step=step) from None
        except ssl.SSLError as exc:
            self.closed = True
            raise TlsAlert(f"erreur TLS de {self.where} : {exc.reason or exc}", step=step) from None
        except OSError as exc:
            self.closed = True
            raise ConnectionLost(f"connexion avec {self.where} coupée : {exc.strerror or exc}", step=step) from None

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
