"""The console's SQLite store: accounts, target allowlist, runs, secret reveals.

One file (``<data-dir>/console.sqlite3``), a short-lived connection per operation (the worker
threads and the request threads never share one), WAL mode so readers never wait for the worker.
Passwords are kept as werkzeug hashes (scrypt); nothing secret is stored in clear.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from mssante_conformance.private_store import connect, private_db

ROLES = ("operator", "auditor", "admin")
DB_FILE = "console.sqlite3"
PASSWORD_MIN = 10
# A hash to compare against when the account does not exist, so that the answer time does not
# tell which account names exist.
_DUMMY_HASH = generate_password_hash("mssante-conformance-dummy", method="scrypt")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at REAL NOT NULL,
  organisation TEXT NOT NULL DEFAULT '', session_version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS allowlist (
  entry TEXT PRIMARY KEY, added_at REAL NOT NULL, organisation TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, owner TEXT NOT NULL, job TEXT NOT NULL, target_key TEXT NOT NULL,
  params TEXT NOT NULL, argv TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,
  started_at REAL, finished_at REAL, pid INTEGER, exit_code INTEGER, verdict TEXT,
  message TEXT NOT NULL DEFAULT '', run_dir TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner, created_at);
CREATE TABLE IF NOT EXISTS reveals (
  fingerprint TEXT PRIMARY KEY, revealed_by TEXT NOT NULL, revealed_at REAL NOT NULL);
"""


class AccountError(ValueError):
    """Bad account input (French message, shown by the CLI)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    # The operator organisation the account acts for ('' = none): an operator account sees only
    # what belongs to its organisation (targets, monitored operators); auditors and admins see all.
    organisation: str = ""
    # Bumped on logout, password change and deletion: a session cookie carries the version it
    # was issued under and is refused once it differs (cookies are client-side, see access.py).
    session_version: int = 0

    @property
    def sees_all_runs(self) -> bool:
        return self.role in ("auditor", "admin")

    @property
    def may_launch(self) -> bool:
        return self.role in ("operator", "admin")


class RunStatus(StrEnum):
    """Where a run is; stored as its value (the ``runs.status`` column)."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"  # the harness wrote a report with a verdict
    FAILED = "failed"  # the harness refused the parameters, or ran no check
    INTERRUPTED = "interrupted"  # stopped, timed out, or gone without a report

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class Run:
    id: str
    owner: str
    job: str
    target_key: str
    params: dict
    argv: list
    status: RunStatus
    created_at: float
    started_at: float | None
    finished_at: float | None
    pid: int | None
    exit_code: int | None
    verdict: str | None
    message: str
    run_dir: str

    @property
    def report_dir(self) -> Path:
        return Path(self.run_dir) / "rapport"

    @property
    def active(self) -> bool:
        return self.status.active


class ConsoleStore:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        # The file holds password hashes: private to us (0600 in a 0700 folder).
        self.path = private_db(self.data_dir, DB_FILE, SCHEMA)
        with self._db() as db:
            _add_missing_columns(db)

    def _db(self):
        return connect(self.path, timeout=10)

    # ------------------------------------------------------------------ accounts
    def create_user(self, name: str, role: str, password: str, organisation: str = "") -> User:
        name = name.strip()
        if not _valid_name(name):
            raise AccountError("nom de compte invalide (lettres, chiffres, . _ - @ ; 64 au plus)")
        organisation = organisation.strip()
        if organisation and not _valid_name(organisation):
            raise AccountError("nom d'organisation invalide (lettres, chiffres, . _ - @ ; 64 au plus)")
        if role not in ROLES:
            raise AccountError(f"rôle inconnu {role!r} (valeurs : {', '.join(ROLES)})")
        if len(password) < PASSWORD_MIN:
            raise AccountError(f"mot de passe trop court ({PASSWORD_MIN} caractères au moins)")
        digest = generate_password_hash(password, method="scrypt")
        # A random first version: a cookie of a deleted account never fits its namesake.
        version = secrets.randbits(31)
        try:
            with self._db() as db:
                db.execute("INSERT INTO users (name, role, password_hash, created_at, organisation,"
                           " session_version) VALUES (?, ?, ?, ?, ?, ?)",
                           (name, role, digest, time.time(), organisation, version))
        except sqlite3.IntegrityError:
            raise AccountError(f"le compte {name!r} existe déjà") from None
        return User(name, role, organisation, version)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < PASSWORD_MIN:
            raise AccountError(f"mot de passe trop court ({PASSWORD_MIN} caractères au moins)")
        with self._db() as db:
            cur = db.execute("UPDATE users SET password_hash=?, session_version=session_version+1"
                             " WHERE name=?",
                             (generate_password_hash(password, method="scrypt"), name))
        if cur.rowcount == 0:
            raise AccountError(f"compte inconnu : {name!r}")

    def end_sessions(self, name: str) -> None:
        """Invalidate every session cookie issued to ``name`` so far (logout)."""
        with self._db() as db:
            db.execute("UPDATE users SET session_version=session_version+1 WHERE name=?", (name,))

    def delete_user(self, name: str) -> None:
        with self._db() as db:
            if db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                raise AccountError(f"compte inconnu : {name!r}")

    def users(self) -> list[User]:
        with self._db() as db:
            return [_user(r) for r in db.execute("SELECT * FROM users ORDER BY name")]

    def user(self, name: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name=?", (name,)).fetchone()
        return _user(row) if row else None

    def authenticate(self, name: str, password: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM users WHERE name=?", (name,)).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return _user(row)

    # ------------------------------------------------------------------ allowlist
    # Each entry belongs to one organisation: an operator account reaches only its own
    # organisation's entries; auditors and admins all. An entry without organisation ('')
    # is reachable by admins only.
    def allow(self, entry: str, organisation: str = "") -> None:
        organisation = organisation.strip()
        if organisation and not _valid_name(organisation):
            raise AccountError("nom d'organisation invalide (lettres, chiffres, . _ - @ ; 64 au plus)")
        with self._db() as db:
            db.execute("INSERT INTO allowlist (entry, added_at, organisation) VALUES (?, ?, ?)"
                       " ON CONFLICT(entry) DO UPDATE SET organisation=excluded.organisation",
                       (entry, time.time(), organisation))

    def allowlist_entries(self) -> list[tuple[str, str]]:
        """(entry, organisation) pairs, by entry."""
        with self._db() as db:
            return [(r["entry"], r["organisation"])
                    for r in db.execute("SELECT entry, organisation FROM allowlist ORDER BY entry")]

    def allowlist_for(self, user: User) -> list[str]:
        """The entries ``user`` may aim runs at."""
        if user.sees_all_runs:
            return self.allowlist()
        if not user.organisation:
            return []
        with self._db() as db:
            return [r["entry"] for r in db.execute(
                "SELECT entry FROM allowlist WHERE organisation=? ORDER BY entry", (user.organisation,))]

    def disallow(self, entry: str) -> bool:
        with self._db() as db:
            return db.execute("DELETE FROM allowlist WHERE entry=?", (entry,)).rowcount > 0

    def allowlist(self) -> list[str]:
        with self._db() as db:
            return [r["entry"] for r in db.execute("SELECT entry FROM allowlist ORDER BY entry")]

    # ------------------------------------------------------------------ runs
    def add_run(self, run_id: str, owner: str, job: str, target_key: str, params: dict,
                argv: list, run_dir: Path) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO runs (id, owner, job, target_key, params, argv, status, created_at, run_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, owner, job, target_key, json.dumps(params, ensure_ascii=False),
                 json.dumps(argv), RunStatus.QUEUED.value, time.time(), str(run_dir)))

    def update_run(self, run_id: str, **fields) -> None:
        allowed = {"status", "started_at", "finished_at", "pid", "exit_code", "verdict", "message"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"bad run fields: {sorted(fields)}")
        assignments = ", ".join(f"{k}=?" for k in fields)
        with self._db() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE id=?", (*fields.values(), run_id))

    def run(self, run_id: str) -> Run | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run(row) if row else None

    def runs(self, owner: str | None = None, limit: int = 200) -> list[Run]:
        """Most recent first; only ``owner``'s runs when given."""
        with self._db() as db:
            if owner is None:
                rows = db.execute("SELECT * FROM runs ORDER BY created_at DESC LIMIT ?", (limit,))
            else:
                rows = db.execute("SELECT * FROM runs WHERE owner=? ORDER BY created_at DESC LIMIT ?",
                                  (owner, limit))
            return [_run(r) for r in rows]

    def runs_with_status(self, *statuses: str) -> list[Run]:
        marks = ",".join("?" * len(statuses))
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM runs WHERE status IN ({marks}) ORDER BY created_at",
                              statuses)
            return [_run(r) for r in rows]

    # ------------------------------------------------------------------ secret reveals
    def reveal_once(self, fingerprint: str, by: str) -> bool:
        """Record that the secret of ``fingerprint`` is shown now; False if it already was."""
        try:
            with self._db() as db:
                db.execute("INSERT INTO reveals VALUES (?, ?, ?)", (fingerprint, by, time.time()))
            return True
        except sqlite3.IntegrityError:
            return False

    def revealed(self, fingerprint: str) -> tuple[str, float] | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM reveals WHERE fingerprint=?", (fingerprint,)).fetchone()
        return (row["revealed_by"], row["revealed_at"]) if row else None


def _valid_name(name: str) -> bool:
    return bool(name) and len(name) <= 64 and all(c.isalnum() or c in "._-@" for c in name)


def _user(row) -> User:
    return User(row["name"], row["role"], row["organisation"], row["session_version"])


def _add_missing_columns(db) -> None:
    """Bring a store made by an earlier version up to SCHEMA (columns added since)."""
    have = {r["name"] for r in db.execute("PRAGMA table_info(users)")}
    if "organisation" not in have:
        db.execute("ALTER TABLE users ADD COLUMN organisation TEXT NOT NULL DEFAULT ''")
    if "organisation" not in {r["name"] for r in db.execute("PRAGMA table_info(allowlist)")}:
        db.execute("ALTER TABLE allowlist ADD COLUMN organisation TEXT NOT NULL DEFAULT ''")
    if "session_version" not in have:
        db.execute("ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0")


def _run(row) -> Run:
    data = dict(row)
    data["params"] = json.loads(data["params"])
    data["argv"] = json.loads(data["argv"])
    data["status"] = RunStatus(data["status"])
    return Run(**data)
