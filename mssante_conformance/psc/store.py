"""The bouchon's state in SQLite: SSO sessions, authorization codes, refresh tokens, revoked
access tokens, relying-party calls.

A small pool of connections per process, in WAL mode: ``mssante-conformance bouchon --workers
N`` forks N gunicorn workers that share this file (a connection never crosses a fork). Secrets are
never stored in clear: refresh tokens and codes by SHA-256, tokens in the call log by
fingerprint. The database file is mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY, idnat TEXT NOT NULL, auth_mode TEXT NOT NULL,
  created_at REAL NOT NULL, last_seen REAL NOT NULL, ended INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS codes (
  code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT, scope TEXT,
  nonce TEXT, session_id TEXT NOT NULL, code_challenge TEXT, code_challenge_method TEXT,
  expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT, session_id TEXT NOT NULL,
  nonce TEXT, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS revoked_jti (jti TEXT PRIMARY KEY, revoked_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, endpoint TEXT NOT NULL,
  client_id TEXT, token_fingerprint TEXT, answer TEXT NOT NULL);
"""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SsoSession:
    session_id: str
    idnat: str
    auth_mode: str
    created_at: float
    last_seen: float
    ended: bool


@dataclass(frozen=True)
class StoredCode:
    client_id: str
    redirect_uri: str | None
    scope: str
    nonce: str
    session_id: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


@dataclass(frozen=True)
class StoredRefreshToken:
    token_hash: str
    client_id: str
    scope: str
    session_id: str
    nonce: str
    revoked: bool


@dataclass(frozen=True)
class RelyingPartyCall:
    """One call a relying party (the operator under test) made to the bouchon.

    ``answer``: what the bouchon answered, summarised (HTTP status, ``active``, ``error``…).
    """

    time: float
    endpoint: str
    client_id: str | None
    token_fingerprint: str | None
    answer: dict

    def as_dict(self) -> dict:
        return {"time": self.time, "endpoint": self.endpoint, "client_id": self.client_id,
                "token_fingerprint": self.token_fingerprint, "answer": self.answer}


class Store:
    FILE = "bouchon.sqlite3"

    def __init__(self, data_dir: Path):
        path = Path(data_dir) / self.FILE
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._path = path
        from mssante_conformance.psc.call_journal import CallJournal  # it imports this module

        self._journal = CallJournal(data_dir)
        self._guard = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        db = self._acquire()
        db.execute("PRAGMA journal_mode=WAL")  # persistent: set once for the file
        db.executescript(SCHEMA)
        self._release(db)

    def _acquire(self) -> sqlite3.Connection:
        """A connection of this process for one statement (a pool: threads come and go)."""
        with self._guard:
            if self._pid != os.getpid():  # forked (a gunicorn worker): the parent's are not ours
                self._pid, self._idle = os.getpid(), []
            if self._idle:
                return self._idle.pop()
        db = sqlite3.connect(self._path, check_same_thread=False, timeout=5,
                             isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough for a test stub
        return db

    def _release(self, db: sqlite3.Connection) -> None:
        with self._guard:
            if self._pid == os.getpid() and len(self._idle) < 16:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
        self._journal.close()

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        db = self._acquire()
        try:
            return db.execute(sql, params).fetchall()
        finally:
            self._release(db)

    # SSO sessions
    def create_session(self, session_id: str, idnat: str, auth_mode: str, now: float) -> None:
        self._run("INSERT INTO sessions VALUES (?,?,?,?,?,0)",
                  (session_id, idnat, auth_mode, now, now))

    def get_session(self, session_id: str) -> SsoSession | None:
        rows = self._run("SELECT * FROM sessions WHERE session_id=?", (session_id,))
        return SsoSession(*rows[0][:5], bool(rows[0][5])) if rows else None

    def touch_session(self, session_id: str, now: float) -> None:
        self._run("UPDATE sessions SET last_seen=? WHERE session_id=?", (now, session_id))

    def end_session(self, session_id: str) -> None:
        self._run("UPDATE sessions SET ended=1 WHERE session_id=?", (session_id,))
        self._run("UPDATE refresh_tokens SET revoked=1 WHERE session_id=?", (session_id,))

    # authorization codes (single use: taken, never read twice)
    def save_code(self, code: str, stored: StoredCode) -> None:
        self._run("INSERT INTO codes VALUES (?,?,?,?,?,?,?,?,?)",
                  (digest(code), stored.client_id, stored.redirect_uri, stored.scope,
                   stored.nonce, stored.session_id, stored.code_challenge,
                   stored.code_challenge_method, stored.expires_at))

    def get_code(self, code: str) -> StoredCode | None:
        rows = self._run("SELECT * FROM codes WHERE code_hash=?", (digest(code),))
        return StoredCode(*rows[0][1:]) if rows else None

    def delete_code(self, code: str) -> None:
        self._run("DELETE FROM codes WHERE code_hash=?", (digest(code),))

    # refresh tokens
    def save_refresh_token(self, token: str, client_id: str, scope: str, session_id: str,
                           nonce: str) -> None:
        self._run("INSERT INTO refresh_tokens VALUES (?,?,?,?,?,0)",
                  (digest(token), client_id, scope, session_id, nonce))

    def get_refresh_token(self, token: str) -> StoredRefreshToken | None:
        rows = self._run("SELECT * FROM refresh_tokens WHERE token_hash=?", (digest(token),))
        return StoredRefreshToken(*rows[0][:5], bool(rows[0][5])) if rows else None

    def revoke_refresh_token(self, token_hash: str) -> None:
        self._run("UPDATE refresh_tokens SET revoked=1 WHERE token_hash=?", (token_hash,))

    # access tokens are JWTs: revocation is by jti
    def revoke_jti(self, jti: str, now: float) -> None:
        self._run("INSERT OR IGNORE INTO revoked_jti VALUES (?,?)", (jti, now))

    def is_jti_revoked(self, jti: str) -> bool:
        return bool(self._run("SELECT 1 FROM revoked_jti WHERE jti=?", (jti,)))

    # relying-party call log: per-process journal files (call_journal.py); the ``calls`` table
    # holds the calls of stores written before the journal, still read.
    def record_call(self, call: RelyingPartyCall) -> None:
        self._journal.record(call)

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        sql, params = "SELECT time, endpoint, client_id, token_fingerprint, answer FROM calls", []
        where = []
        if since is not None:
            where.append("time >= ?")
            params.append(float(since))
        if endpoint is not None:
            where.append("endpoint = ?")
            params.append(endpoint)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._run(sql + " ORDER BY id", tuple(params))
        older = [RelyingPartyCall(t, e, c, f, json.loads(a)) for t, e, c, f, a in rows]
        merged = older + self._journal.calls(None if since is None else float(since), endpoint)
        return sorted(merged, key=lambda call: call.time) if older else merged
