"""History, regressions and recoveries, alerts: a monitor round with a scripted run_target
(no network), then the webhook on a loopback receiver and the JSONL file."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

from mssante_conformance.console.store import ConsoleStore
from mssante_conformance.monitor.alerts import Alerter
from mssante_conformance.monitor.history import Changes, MonitorHistory, compare
from mssante_conformance.monitor.runner import Monitor, TargetOutcome
from mssante_conformance.monitor.targets import MonitoredTarget

from .receiver import WebhookReceiver


def target(name: str, organisation: str = "") -> MonitoredTarget:
    return MonitoredTarget(name, organisation or name, ("imap://127.0.0.1:1",), None, None, None, (),
                           "during", 3600, 0)


def test_compare_is_against_the_last_decided_outcome():
    assert compare({"A": "passed", "B": "failed", "C": "passed"},
                   {"A": "failed", "B": "passed", "C": "error", "D": "failed"}) == Changes(("A",), ("B",))
    assert compare({}, {"A": "failed"}) == Changes()


class Scripted:
    """run_target stand-in: each call returns the next outcomes scripted for that target."""

    def __init__(self, script: dict[str, list[dict | None]]):
        self.script = {k: list(v) for k, v in script.items()}

    def __call__(self, target, report_dir, deadline, env=None, stop=None):
        outcomes = self.script[target.name].pop(0)
        now = time.time()
        if outcomes is None:
            return TargetOutcome(now, now, "error", None, None, "délai dépassé")
        report = {"verdict": "non_conforme_bloquante" if "failed" in outcomes.values() else "conforme",
                  "harness_version": "9.9", "catalog_version": "ref1-v1.5",
                  "checks": [{"id": c, "outcome": o, "title": f"titre {c}", "reason": f"raison {c}"}
                             for c, o in outcomes.items()]}
        return TargetOutcome(now, now + 1, "finished", report, str(report_dir / "report.html"), "")


def test_rounds_record_history_regressions_recoveries_and_alert(tmp_path):
    ok = {"LPS-TLS-02": "passed", "LPS-IMAP-02": "passed"}
    broken = {"LPS-TLS-02": "failed", "LPS-IMAP-02": "passed"}
    script = Scripted({"a": [ok, ok, None, broken], "b": [ok, broken, ok, ok]})
    history = MonitorHistory(tmp_path)
    jsonl = tmp_path / "alertes.jsonl"
    with WebhookReceiver() as receiver:
        monitor = Monitor(history, data_dir=tmp_path, run_target=script,
                          alerter=Alerter(receiver.url, jsonl))
        rounds = [monitor.run_round([target("a", "orga"), target("b")]) for _ in range(4)]
    changes = [{r.target: r.changes for r in results} for results in rounds]
    assert changes[0] == {"a": Changes(), "b": Changes()}
    assert changes[1] == {"a": Changes(), "b": Changes(("LPS-TLS-02",), ())}
    assert changes[2] == {"a": Changes(), "b": Changes((), ("LPS-TLS-02",))}
    # a's outage (round 3) decides nothing: round 4 compares with round 2
    assert changes[3] == {"a": Changes(("LPS-TLS-02",), ()), "b": Changes()}
    assert rounds[2][0].status == "error" and rounds[2][0].message == "délai dépassé"

    assert [(m["cible"], [c["id"] for c in m["controles"]]) for m in receiver.messages] == \
        [("b", ["LPS-TLS-02"]), ("a", ["LPS-TLS-02"])]
    assert receiver.headers[0]["Content-Type"].startswith("application/json")
    first = receiver.messages[0]
    assert first["type"] == "regression" and first["controles"][0]["titre"] == "titre LPS-TLS-02"
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == receiver.messages

    runs = history.runs("a")
    assert [r.status for r in runs] == ["finished", "error", "finished", "finished"]
    assert runs[0].outcomes == broken and runs[0].harness_version == "9.9"
    assert history.open_regressions("a") == ["LPS-TLS-02"] and history.open_regressions("b") == []
    assert history.targets() == [("a", "orga"), ("b", "b")]
    assert history.targets("orga") == [("a", "orga")]


def test_history_shares_the_console_store(tmp_path):
    ConsoleStore(tmp_path).create_user("alice", "auditor", "un mot de passe long")
    MonitorHistory(tmp_path)
    db = sqlite3.connect(tmp_path / "console.sqlite3")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "runs", "monitor_runs", "monitor_outcomes", "monitor_changes"} <= tables


def test_an_unreachable_webhook_does_not_stop_the_round(tmp_path, capsys):
    script = Scripted({"a": [{"X": "passed"}, {"X": "failed"}]})
    alerter = Alerter("http://127.0.0.1:9/", None)
    monitor = Monitor(MonitorHistory(tmp_path), data_dir=tmp_path, run_target=script, alerter=alerter)
    monitor.run_round([target("a")])
    (run,) = monitor.run_round([target("a")])
    assert run.changes.regressions == ("X",)
    assert alerter.failures and "webhook" in capsys.readouterr().err


def test_parallelism_is_bounded(tmp_path):
    running, peak, lock = [0], [0], threading.Lock()

    def slow(target, report_dir, deadline, env=None, stop=None):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        now = time.time()
        return TargetOutcome(now, now, "error", None, None, "x")

    monitor = Monitor(MonitorHistory(tmp_path), data_dir=tmp_path, run_target=slow, max_parallel=3)
    results = monitor.run_round([target(f"t{i}") for i in range(10)])
    assert peak[0] == 3 and [r.target for r in results] == [f"t{i}" for i in range(10)]


def test_an_interrupted_round_stops_the_runs_in_flight(tmp_path):
    """Ctrl-C during a round: the run in flight sees the stop and the round ends at once, not
    at the runs' deadlines."""
    started = threading.Event()

    def hanging(target, report_dir, deadline, env=None, stop=None):
        started.set()
        stop.wait(deadline)
        now = time.time()
        return TargetOutcome(now, now, "error", None, None, "tour de supervision interrompu")

    monitor = Monitor(MonitorHistory(tmp_path), data_dir=tmp_path, run_target=hanging, deadline=600)
    timer = threading.Timer(0.3, lambda: monitor.stop.set())
    timer.start()
    t0 = time.monotonic()
    results = monitor.run_round([target("a"), target("b")])
    assert time.monotonic() - t0 < 5 and started.is_set()
    assert all(r.status == "error" for r in results)


def test_history_opened_first_creates_the_console_file_private(tmp_path):
    """The monitor may create console.sqlite3 before the console does: it holds password hashes
    once the console opens it, so it is created 0600 in a 0700 folder either way."""
    import stat

    folder = tmp_path / "console"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    MonitorHistory(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "console.sqlite3").stat().st_mode) == 0o600
