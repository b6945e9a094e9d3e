"""Helpers of the sink tests: a misbehaving raw SMTP client."""

from __future__ import annotations

import socket
import ssl

SINK_DOMAIN = "harnais.mssante.test"


class RawSmtp:
    """A deliberately naive SMTP client over a raw socket, to misbehave on purpose."""

    def __init__(self, address, timeout: float = 5) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed by the sink")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] == b" ":
                return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line: bytes) -> tuple[int, str]:
        self.send(line + b"\r\n")
        return self.reply()

    def starttls(self, cert=None, key=None) -> None:
        assert self.cmd(b"STARTTLS")[0] == 220
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(cert, key)
        self.sock = context.wrap_socket(self.sock)

    def close(self) -> None:
        self.sock.close()
