"""SQLite files private to the harness: created 0600 in a 0700 folder, opened in WAL mode.

The console's store (accounts, password hashes, runs) and the monitoring history share one
file, ``console.sqlite3``; whichever opens it first creates it, so both go through here.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path


def private_db(data_dir: Path, name: str, schema: str) -> Path:
    """``data_dir/name``, created (with its folder) private to us, with ``schema`` applied."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is ignored for a folder that exists, and umask-filtered otherwise.
    os.chmod(data_dir, 0o700)
    path = data_dir / name
    # SQLite gives its -wal and -shm files the database file's mode, so creating this one 0600
    # is enough (older stores: chmod).
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for existing in (path, *data_dir.glob(name + "-*")):
        os.chmod(existing, 0o600)
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)
    return path


@contextmanager
def connect(path: Path, timeout: float = 10):
    """One transaction on ``path``: committed on success, rolled back on error, then closed."""
    db = sqlite3.connect(path, timeout=timeout)
    db.row_factory = sqlite3.Row
    try:
        with db:
            yield db
    finally:
        db.close()
