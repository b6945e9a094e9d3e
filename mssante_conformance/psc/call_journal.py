"""The relying-party call log as append-only JSON-lines files, one per process, merged on read.

Why not the SQLite store: every relying-party call is logged (every introspection, every JWKS
fetch), and with ``bouchon --workers N`` the N processes would queue on SQLite's single writer
lock, whose busy handler sleeps in milliseconds: that lock, not the RSA work, set the bouchon's
p99. Here each process appends one line per call to its own file (``<data-dir>/calls/<pid>.jsonl``,
one ``write`` of a whole line on an ``O_APPEND`` descriptor: no lock, no interleaving), and a
reader merges the files by time. Readers are rare (a check reading what the operator asked),
writers are the hot path.

Order: by time, then file, then line; within one process this is the order of the calls.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from mssante_conformance.psc.store import RelyingPartyCall


class CallJournal:
    DIR = "calls"

    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir) / self.DIR
        self.dir.mkdir(exist_ok=True, mode=0o700)
        self._guard = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _descriptor(self) -> int:
        with self._guard:
            if self._pid != os.getpid():  # first call, or a forked worker: a file of its own
                self._pid = os.getpid()
                self._fd = os.open(self.dir / f"{self._pid}.jsonl",
                                   os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            return self._fd

    def record(self, call: RelyingPartyCall) -> None:
        line = json.dumps([call.time, call.endpoint, call.client_id, call.token_fingerprint,
                           call.answer], ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._descriptor(), line.encode("utf-8"))

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        found = []
        for file_index, path in enumerate(sorted(self.dir.glob("*.jsonl"))):
            try:
                text = path.read_text("utf-8")
            except OSError:
                continue
            for line_index, line in enumerate(text.splitlines()):
                try:
                    time_, endpoint_, client_id, token_fp, answer = json.loads(line)
                except ValueError:
                    continue  # a line being written right now: it is not a call yet
                if (since is not None and time_ < since) or (endpoint is not None and endpoint_ != endpoint):
                    continue
                found.append(((time_, file_index, line_index),
                              RelyingPartyCall(time_, endpoint_, client_id, token_fp, answer)))
        found.sort(key=lambda item: item[0])
        return [call for _, call in found]

    def close(self) -> None:
        with self._guard:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd, self._pid = None, None
