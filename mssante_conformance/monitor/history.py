"""The monitoring history, in the console's SQLite store (``console.sqlite3``, tables ``monitor_*``).

* ``monitor_runs``: one line per target per run (a ``monitor`` invocation is a *round*,
  ``round_id``): when, status (``finished`` or ``error``), verdict, report path, harness and
  catalog versions, a message when it ended in error.
* ``monitor_outcomes``: the outcome of each check of that run.
* ``monitor_changes``: the regressions and recoveries that run revealed.

A **regression** is a check that failed in this run and *passed* the last time the target gave
it a decided outcome (passed or failed); a **recovery** is the reverse. A run ending in ``error``
(target unreachable, deadline exceeded) or a check in ``error`` decides nothing: an outage is not
a regression, and the check's next decided outcome is compared with its last one before it.
:func:`compare` is pure and unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mssante_conformance.private_store import connect, private_db

DB_FILE = "console.sqlite3"  # the console's store (console/store.py)
DECIDED = ("passed", "failed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS monitor_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, round_id TEXT NOT NULL, target TEXT NOT NULL,
  organisation TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL NOT NULL,
  status TEXT NOT NULL, verdict TEXT, report_path TEXT, harness_version TEXT,
  catalog_version TEXT, message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS monitor_runs_target ON monitor_runs(target, id);
CREATE TABLE IF NOT EXISTS monitor_outcomes (
  run_id INTEGER NOT NULL REFERENCES monitor_runs(id), check_id TEXT NOT NULL,
  outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, check_id));
CREATE TABLE IF NOT EXISTS monitor_changes (
  run_id INTEGER NOT NULL REFERENCES monitor_runs(id), check_id TEXT NOT NULL,
  kind TEXT NOT NULL, PRIMARY KEY (run_id, check_id));
"""


@dataclass(frozen=True)
class Changes:
    regressions: tuple[str, ...] = ()
    recoveries: tuple[str, ...] = ()


def compare(baseline: dict[str, str], outcomes: dict[str, str]) -> Changes:
    """Regressions and recoveries of ``outcomes`` against ``baseline`` (each check's last
    decided outcome before this run)."""
    regressions = sorted(c for c, o in outcomes.items() if o == "failed" and baseline.get(c) == "passed")
    recoveries = sorted(c for c, o in outcomes.items() if o == "passed" and baseline.get(c) == "failed")
    return Changes(tuple(regressions), tuple(recoveries))


@dataclass(frozen=True)
class MonitorRun:
    id: int
    round_id: str
    target: str
    organisation: str
    started_at: float
    finished_at: float
    status: str  # finished | error
    verdict: str | None
    report_path: str | None
    harness_version: str | None
    catalog_version: str | None
    message: str
    outcomes: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    changes: Changes = Changes()

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


class MonitorHistory:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        # The console's file (password hashes): created private if the monitor comes first.
        self.path = private_db(self.data_dir, DB_FILE, SCHEMA)

    def _db(self):
        return connect(self.path, timeout=30)

    def baseline(self, target: str) -> dict[str, str]:
        """Each check's last decided outcome (passed/failed) in the target's recorded runs."""
        with self._db() as db:
            rows = db.execute(
                "SELECT o.check_id, o.outcome FROM monitor_outcomes o JOIN monitor_runs r ON r.id = o.run_id"
                " WHERE r.target = ? AND o.outcome IN ('passed', 'failed') ORDER BY r.id", (target,))
            return {r["check_id"]: r["outcome"] for r in rows}

    def record(self, *, round_id: str, target: str, organisation: str, started_at: float,
               finished_at: float, status: str, verdict: str | None, report_path: str | None,
               harness_version: str | None, catalog_version: str | None, message: str = "",
               outcomes: dict[str, str] | None = None, reasons: dict[str, str] | None = None) -> MonitorRun:
        """Store one target's run; its regressions/recoveries are computed against the history
        (in the same transaction, so two rounds cannot interleave on one target)."""
        outcomes = dict(outcomes or {})
        reasons = dict(reasons or {})
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT o.check_id, o.outcome FROM monitor_outcomes o JOIN monitor_runs r ON r.id = o.run_id"
                " WHERE r.target = ? AND o.outcome IN ('passed', 'failed') ORDER BY r.id", (target,))
            changes = compare({r["check_id"]: r["outcome"] for r in rows}, outcomes)
            cur = db.execute(
                "INSERT INTO monitor_runs (round_id, target, organisation, started_at, finished_at,"
                " status, verdict, report_path, harness_version, catalog_version, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (round_id, target, organisation, started_at, finished_at, status, verdict,
                 report_path, harness_version, catalog_version, message))
            run_id = cur.lastrowid
            db.executemany("INSERT INTO monitor_outcomes VALUES (?, ?, ?, ?)",
                           [(run_id, c, o, reasons.get(c, "")) for c, o in outcomes.items()])
            db.executemany("INSERT INTO monitor_changes VALUES (?, ?, ?)",
                           [(run_id, c, "regression") for c in changes.regressions]
                           + [(run_id, c, "recovery") for c in changes.recoveries])
        return MonitorRun(run_id, round_id, target, organisation, started_at, finished_at, status,
                          verdict, report_path, harness_version, catalog_version, message,
                          outcomes, reasons, changes)

    # ------------------------------------------------------------------ reading
    def targets(self, organisation: str | None = None) -> list[tuple[str, str]]:
        """``(target, organisation)`` of every monitored target (only ``organisation``'s when given)."""
        with self._db() as db:
            rows = db.execute("SELECT target, organisation FROM monitor_runs WHERE id IN"
                              " (SELECT MAX(id) FROM monitor_runs GROUP BY target) ORDER BY target")
            return [(r["target"], r["organisation"]) for r in rows
                    if organisation is None or r["organisation"] == organisation]

    def runs(self, target: str, limit: int = 50, *, with_outcomes: bool = True) -> list[MonitorRun]:
        """The target's runs, most recent first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM monitor_runs WHERE target = ? ORDER BY id DESC LIMIT ?",
                              (target, limit)).fetchall()
            out = []
            for row in rows:
                outcomes, reasons, regressions, recoveries = {}, {}, [], []
                if with_outcomes:
                    for o in db.execute("SELECT * FROM monitor_outcomes WHERE run_id = ?", (row["id"],)):
                        outcomes[o["check_id"]] = o["outcome"]
                        reasons[o["check_id"]] = o["reason"]
                for c in db.execute("SELECT * FROM monitor_changes WHERE run_id = ? ORDER BY check_id",
                                    (row["id"],)):
                    (regressions if c["kind"] == "regression" else recoveries).append(c["check_id"])
                out.append(MonitorRun(**dict(row), outcomes=outcomes, reasons=reasons,
                                      changes=Changes(tuple(regressions), tuple(recoveries))))
            return out

    def run(self, run_id: int) -> MonitorRun | None:
        with self._db() as db:
            row = db.execute("SELECT target FROM monitor_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return next((r for r in self.runs(row["target"], limit=10_000) if r.id == run_id), None)

    def open_regressions(self, target: str) -> list[str]:
        """Checks whose last change was a regression and that have not passed since."""
        with self._db() as db:
            changes = db.execute(
                "SELECT c.check_id, c.kind FROM monitor_changes c JOIN monitor_runs r ON r.id = c.run_id"
                " WHERE r.target = ? ORDER BY r.id", (target,)).fetchall()
        last = {}
        for c in changes:
            last[c["check_id"]] = c["kind"]
        return sorted(c for c, kind in last.items() if kind == "regression")
