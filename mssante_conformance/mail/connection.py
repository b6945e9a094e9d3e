"""TCP connection and line I/O shared by the drivers: every step bounded by a timeout.

A per-read timeout alone lets a server that trickles one byte at a time hold a probe
forever, so :meth:`LineSocket.readline` also enforces a deadline for the whole line and a
maximum line length.
"""

from __future__ import annotations

import socket
import ssl
import time

from .endpoint import Endpoint
from .errors import ConnectionFailed, ConnectionLost, ProbeTimeout, ProtocolMismatch

MAX_LINE = 64 * 1024


def tcp_connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    """Open a TCP connection, mapping every failure to a :class:`ProbeError`."""
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        return socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except ConnectionRefusedError:
        raise ConnectionFailed(f"connexion refusée par {where}", step="connect") from None
    except socket.gaierror as exc:
        raise ConnectionFailed(f"nom d'hôte {endpoint.host} introuvable ({exc.strerror})", step="connect") from None
    except (TimeoutError, socket.timeout):
        raise ProbeTimeout(f"pas de réponse de {where} à la connexion TCP en {timeout:g} s", step="connect") from None
    except OSError as exc:
        raise ConnectionFailed(f"connexion impossible à {where} : {exc.strerror or exc}", step="connect") from None


class LineSocket:
    """CRLF lines and counted bytes over a (TLS or plain) socket, with timeouts."""

    def __init__(self, sock: socket.socket, timeout: float, where: str) -> None:
        self.sock = sock
        self.timeout = timeout
        self.where = where
        self._buffer = b""
        self.closed = False

    def replace_socket(self, sock: socket.socket) -> None:
        """After STARTTLS: continue on the TLS socket (bytes buffered before are dropped,
        as RFC 3207/2595 require)."""
        self.sock = sock
        self._buffer = b""

    def _fill(self, deadline: float, step: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeTimeout(f"{self.where} n'a pas terminé sa réponse en {self.timeout:g} s", step=step)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            raise ProbeTimeout(f"{self.where} n'a rien répondu en {self.timeout:g} s", step=step) from None
        except ssl.SSLError as exc:
            self.closed = True
            raise ConnectionLost(f"erreur TLS de {self.where} : {exc.reason or exc}", step=step) from None
        except OSError as exc:
            self.closed = True
            raise ConnectionLost(f"connexion avec {self.where} coupée : {exc.strerror or exc}", step=step) from None
        if not chunk:
            self.closed = True
            raise ConnectionLost(f"{self.where} a fermé la connexion", step=step)
        self._buffer += chunk

    def readline(self, step: str = "command") -> str:
        """One line without CRLF, decoded as UTF-8 (undecodable bytes escaped)."""
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ProtocolMismatch(f"{self.where} envoie une ligne de plus de {MAX_LINE} octets", step=step)
            self._fill(deadline, step)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "backslashreplace")

    def read_exactly(self, size: int, step: str = "command") -> bytes:
        deadline = time.monotonic() + self.timeout
        while len(self._buffer) < size:
            self._fill(deadline, step)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def send(self, data: bytes, step: str = "command") -> None:
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except (TimeoutError, socket.timeout):
            raise ProbeTimeout(f"{self.where} n'accepte plus de données (délai {self.timeout:g} s)", step=step) from None
        except OSError as exc:
            self.closed = True
            raise ConnectionLost(f"connexion avec {self.where} coupée : {exc.strerror or exc}", step=step) from None

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
