"""Durable storage of the messages the MX sink accepted: a maildir plus a JSON sidecar.

Layout under the sink's ``maildir``::

    tmp/<name>            message being written
    new/<name>            delivered messages (the message bytes exactly as received)
    meta/<name>.json      envelope, TLS facts, connection id, time of reception

Order of a delivery (:meth:`Maildir.deliver`): write the sidecar to ``tmp/``, fsync, rename
into ``meta/``; write the message to ``tmp/``, fsync, rename into ``new/``, fsync ``new/``.
Only then does the sink answer 250. The rename into ``new/`` is the commit point: a message
is delivered if and only if its file is in ``new/`` (a sidecar without a message is ignored),
so a client that drops mid-DATA, or a crash mid-write, never leaves a "delivered" message.
The message is not altered (no Received: header) so OPI-OUT-04 can compare it byte for byte.

An in-memory index of what was delivered is kept next to the files: read from disk once when
the maildir is opened, appended to at each commit. Readers (``messages``, the sink's
``wait_for``) never re-read and re-parse the maildir, and the sink's caps (message count, bytes
on disk) are checked against it.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .sink_tls import TlsFacts


@dataclass(frozen=True)
class DeliveredMessage:
    """One message the sink accepted with 250.

    ``data``: the message bytes as received (after dot-unstuffing); ``message``: parsed;
    ``tls``: the TLS facts of the connection (``None`` if it was plain text);
    ``path``: its file in ``new/``.
    """

    envelope_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: TlsFacts | None
    received_at: datetime
    path: Path
    connection_id: int
    helo: str | None
    peer: str

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @cached_property
    def subject(self) -> str:  # parsed once: wait_for asks it of the same message many times
        return str(self.message.get("Subject", ""))

    def to_dict(self) -> dict[str, Any]:
        """Evidence form (no message body: its size and SHA-256 are enough)."""
        import hashlib

        return {
            "envelope_from": self.envelope_from,
            "rcpt_tos": list(self.rcpt_tos),
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "subject": self.subject,
            "tls": self.tls.to_dict() if self.tls else None,
            "received_at": self.received_at.isoformat(timespec="milliseconds"),
            "path": str(self.path),
            "connection_id": self.connection_id,
            "helo": self.helo,
            "peer": self.peer,
        }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


class Maildir:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.tmp, self.new, self.meta = self.root / "tmp", self.root / "new", self.root / "meta"
        for sub in (self.tmp, self.new, self.root / "cur", self.meta):
            sub.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._index: list[DeliveredMessage] = self._scan()
        self._bytes = sum(len(m.data) for m in self._index)

    @property
    def count(self) -> int:
        """Messages delivered (as indexed)."""
        return len(self._index)

    @property
    def stored_bytes(self) -> int:
        """Bytes of message data delivered (as indexed; sidecars not counted)."""
        return self._bytes

    @staticmethod
    def _unique_name() -> str:
        return f"{time.time_ns()}.{uuid.uuid4().hex[:16]}.{socket.gethostname() or 'sink'}"

    def deliver(
        self,
        data: bytes,
        *,
        envelope_from: str,
        rcpt_tos: list[str],
        tls: TlsFacts | None,
        received_at: datetime,
        connection_id: int,
        helo: str | None,
        peer: str,
    ) -> DeliveredMessage:
        """Store durably; returns once the message is committed to ``new/``."""
        name = self._unique_name()
        sidecar = {
            "envelope_from": envelope_from,
            "rcpt_tos": list(rcpt_tos),
            "tls": tls.to_dict() if tls else None,
            "received_at": received_at.isoformat(),
            "connection_id": connection_id,
            "helo": helo,
            "peer": peer,
            "size": len(data),
        }
        tmp_meta = self.tmp / (name + ".json")
        _write_synced(tmp_meta, json.dumps(sidecar, ensure_ascii=False, indent=1).encode())
        os.rename(tmp_meta, self.meta / (name + ".json"))
        tmp_msg = self.tmp / name
        _write_synced(tmp_msg, data)
        final = self.new / name
        os.rename(tmp_msg, final)
        _fsync_dir(self.meta)
        _fsync_dir(self.new)
        delivered = DeliveredMessage(envelope_from, tuple(rcpt_tos), data, tls, received_at, final,
                                     connection_id, helo, peer)
        with self._lock:
            self._index.append(delivered)
            self._bytes += len(data)
        return delivered

    def messages(self, start: int = 0) -> list[DeliveredMessage]:
        """Every delivered message from the ``start``-th on, oldest first (from the index)."""
        with self._lock:
            return self._index[start:]

    def _scan(self) -> list[DeliveredMessage]:
        """Every delivered message on disk, oldest first (names start with the nanosecond time)."""
        found = []
        for path in sorted(self.new.iterdir()):
            try:
                meta = json.loads((self.meta / (path.name + ".json")).read_text(encoding="utf-8"))
                data = path.read_bytes()
            except (OSError, ValueError):
                continue  # not one of ours, or removed meanwhile
            found.append(
                DeliveredMessage(
                    envelope_from=meta["envelope_from"],
                    rcpt_tos=tuple(meta["rcpt_tos"]),
                    data=data,
                    tls=TlsFacts.from_dict(meta.get("tls")),
                    received_at=datetime.fromisoformat(meta["received_at"]),
                    path=path,
                    connection_id=int(meta.get("connection_id", 0)),
                    helo=meta.get("helo"),
                    peer=meta.get("peer", ""),
                )
            )
        return found
